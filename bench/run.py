"""`make bench`: our bot side by side with a bare Rasa bot, on loopback, in one command.

Phases (elapsed time printed for each):

1. Split data/nlu once (held-out 20%). Unless `--no-background`, the default pipeline's NLU
   evaluation (DIET: ~10 minutes of CPU) starts now in the background under `chrt --idle 0`
   (SCHED_IDLE: it only gets the CPU time the timed phases leave idle).
2. Timed: `rasa train` of each bot with a fresh, empty Rasa cache.
3. Timed, one bot after the other (never both serving): cold start to first answer, warm-up,
   load at 1, 10 and 50 concurrent conversations, 3 long conversations of 200 turns, peak
   RSS of every process; then the stack is stopped.
4. Not timed: our pipeline's held-out NLU evaluation and the red-flag set through
   `aftercare ask --jsonl` (in parallel), then the default pipeline's evaluation is awaited.
5. results/bench.json, bench.md, bench_readme.md and bench/*.png; the table is printed.

Work files (models, databases, logs, the baseline project) go to var/bench/run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import baseline, nlu, report
from bench.load import LoadResult, run_load, turn_latencies
from bench.stack import (
    Command,
    Stack,
    StackError,
    cmdline,
    descendants,
    machine_busy_seconds,
    process_label,
    run_warm_up,
    stop_tree,
    tree_cpu_seconds,
)
from bot.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "run"
PYTHON = sys.executable
AFTERCARE = str(Path(sys.executable).with_name("aftercare"))

#: Ordinary aftercare questions (no red flags: they would create staff alerts).
OURS_SCRIPT = (
    "hi",
    "my treatment was 3 days ago",
    "can I wear makeup?",
    "is redness normal?",
    "can I go to the gym?",
    "when can I use retinol?",
    "do I need sunscreen?",
    "how should I wash my face?",
    "can I go swimming?",
    "my skin is peeling, is that ok?",
    "when should I book my next treatment?",
    "thanks",
)
OURS_LONG_OPENING = ("hi", "my treatment was 3 days ago")
OURS_LONG_REPEATED = (
    "can I wear makeup?",
    "is redness normal?",
    "can I go to the gym?",
    "do I need sunscreen?",
    "can I go swimming?",
    "my skin is peeling, is that ok?",
    "when should I book my next treatment?",
    "thanks",
)


@dataclass(frozen=True)
class Bounds:
    """How much load each phase sends (the same for both bots)."""

    max_messages: dict[int, int]
    max_seconds: float
    warmup: int
    turns: int
    turn_runs: int


FULL = Bounds({1: 400, 10: 2000, 50: 4000}, max_seconds=20, warmup=20, turns=200, turn_runs=3)
QUICK = Bounds({1: 15, 10: 40, 50: 100}, max_seconds=4, warmup=5, turns=20, turn_runs=1)


def load_average() -> float | None:
    """The 1-minute load average."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, kernel, Python, Rasa, date and git commit."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rasa": version("rasa"),
        "rasa_sdk": version("rasa-sdk"),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit,
    }


# --------------------------------------------------------------------------- the run


class Bench:
    """One benchmark run: phases with timing and progress lines, and the results."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.bounds = QUICK if args.quick else FULL
        self.started = time.perf_counter()
        self.phases: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {"bots": {"ours": {}, "baseline": {}}, "nlu": {}}
        self.samples: dict[str, dict[str, list[float]]] = {"ours": {}, "baseline": {}}
        self.turn_medians: dict[str, list[float]] = {}
        self.background: subprocess.Popen | None = None

    # ------------------------------------------------------------------ helpers

    def say(self, text: str) -> None:
        """A progress line with the elapsed time."""
        print(f"[{time.perf_counter() - self.started:7.1f} s] {text}", flush=True)

    @contextlib.contextmanager
    def phase(self, name: str, timed: bool = True) -> Iterator[dict[str, Any]]:
        """Time a phase; record its duration and the load average at its start and end."""
        record: dict[str, Any] = {"name": name, "timed": timed, "load_start": load_average()}
        background_cpu = self.background_cpu()
        busy, own = machine_busy_seconds(), tree_cpu_seconds(os.getpid())
        self.say(f"{name} ...")
        start = time.perf_counter()
        try:
            yield record
        finally:
            record["seconds"] = round(time.perf_counter() - start, 2)
            record["load_end"] = load_average()
            if background_cpu is not None and (now := self.background_cpu()) is not None:
                # CPU the SCHED_IDLE job got meanwhile: how much it shared the machine.
                record["background_cpu_seconds"] = round(now - background_cpu, 1)
            # CPU used by processes that are not the bench's own (other work on the machine).
            other = (machine_busy_seconds() - busy) - (tree_cpu_seconds(os.getpid()) - own)
            record["other_cpu_seconds"] = round(max(0.0, other), 1)
            self.phases.append(record)
            extra = f" — {record['summary']}" if record.get("summary") else ""
            if "background_cpu_seconds" in record:
                extra += f" [background job: {record['background_cpu_seconds']} CPU s]"
            if record["other_cpu_seconds"] >= 1:
                extra += f" [other processes: {record['other_cpu_seconds']} CPU s]"
            self.say(
                f"{name}: {record['seconds']:.1f} s (load {record['load_start']} -> "
                f"{record['load_end']}){extra}"
            )

    def background_cpu(self) -> float | None:
        """CPU seconds the background NLU job used so far (None if it is not running)."""
        if self.background is None or self.background.returncode is not None:
            return None
        with contextlib.suppress(OSError):
            if (Path("/proc") / str(self.background.pid)).exists():
                return tree_cpu_seconds(self.background.pid)
        return None

    def run_logged(
        self, cmd: Sequence[str], cwd: Path, env: dict[str, str], log: Path
    ) -> tuple[float, float]:
        """Run a command to completion with its output in `log`; (wall s, CPU s of it)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
            )
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd[:4])}\n{tail}")
        return wall, usage.ru_utime + usage.ru_stime

    # ------------------------------------------------------------------ NLU

    def nlu_command(self, name: str, config: Path) -> list[str]:
        """`python -m bench.nlu` for one pipeline on the shared split."""
        return [
            PYTHON,
            "-m",
            "bench.nlu",
            "--name",
            name,
            "--config",
            str(config),
            "--split",
            str(WORK / "nlu" / "split"),
            "--workdir",
            str(WORK / "nlu"),
            "--result",
            str(WORK / "nlu" / f"{name}.json"),
        ]

    def start_background_default_nlu(self) -> None:
        """The default pipeline's held-out evaluation under SCHED_IDLE, in the background."""
        cmd = ["chrt", "--idle", "0", *self.nlu_command("default", nlu.DEFAULT_CONFIG)]
        log = WORK / "logs" / "nlu.default.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self.background = subprocess.Popen(
                cmd, cwd=ROOT, env=rasa_env(), stdout=out, stderr=subprocess.STDOUT
            )
        policy = wait_for_policy(self.background.pid, "SCHED_IDLE")
        self.results["background"] = {
            "mode": "background under SCHED_IDLE (chrt --idle 0), started before the timed "
            "phases and awaited at the end",
            "scheduler": policy,
            "note": "its train time is wall time while the timed phases ran; CPU s is comparable",
        }
        self.say(f"default pipeline NLU evaluation started in the background ({policy})")

    def nlu_result(self, name: str) -> dict[str, Any]:
        """The figures `python -m bench.nlu` wrote for one pipeline."""
        path = WORK / "nlu" / f"{name}.json"
        if not path.exists():
            return {"name": name, "ok": False, "error": "no result (see var/bench/run/logs)"}
        return json.loads(path.read_text())

    # ------------------------------------------------------------------ training

    def train_ours(self) -> None:
        """`bot.training.train(force=True)` into the work dir, with a fresh Rasa cache."""
        with self.phase("train ours (rasa train, fresh cache)") as record:
            env = {**rasa_env(), "RASA_CACHE_DIRECTORY": str(fresh_dir(WORK / "cache-ours"))}
            code = (
                "from pathlib import Path; from bot.training import train; "
                f"train(Path({str(ROOT)!r}), Path({str(WORK / 'models')!r}), force=True)"
            )
            wall, cpu = self.run_logged(
                [PYTHON, "-c", code], ROOT, env, WORK / "logs" / "train.ours.log"
            )
            record["summary"] = f"CPU {cpu:.0f} s"
        bot = self.results["bots"]["ours"]
        bot["train_seconds"], bot["train_cpu_seconds"] = round(wall, 1), round(cpu, 1)

    def train_baseline(self) -> Path:
        """Build the rasa init bot and `rasa train` it with a fresh Rasa cache."""
        project = baseline.build(WORK / "baseline", action_port=0)  # port set before serving
        with self.phase("train baseline (rasa train, fresh cache)") as record:
            env = {**rasa_env(), "RASA_CACHE_DIRECTORY": str(fresh_dir(WORK / "cache-baseline"))}
            wall, cpu = self.run_logged(
                baseline.train_command(), project, env, WORK / "logs" / "train.baseline.log"
            )
            record["summary"] = f"CPU {cpu:.0f} s"
        bot = self.results["bots"]["baseline"]
        bot["train_seconds"], bot["train_cpu_seconds"] = round(wall, 1), round(cpu, 1)
        return project

    # ------------------------------------------------------------------ serving

    def ours_stack(self) -> Stack:
        """`aftercare run` on free loopback ports with the bench's model and databases."""
        rasa_port, action_port, web_port = free_port(), free_port(), free_port()
        data = fresh_dir(WORK / "ours")
        env = {
            "AFTERCARE_MODELS_DIR": str(WORK / "models"),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{data / 'app.db'}",
            "AFTERCARE_TRACKER_DB": str(data / "rasa_tracker.db"),
            "RASA_TELEMETRY_ENABLED": "false",
        }
        argv = [AFTERCARE, "run", "--port", str(rasa_port), "--action-port", str(action_port)]
        argv += ["--web-port", str(web_port)]
        url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
        command = Command("aftercare-run", argv, ROOT, env, unset_prefixes=("TELEGRAM_",))
        return Stack("ours", [command], url, WORK / "logs", greeting=OURS_SCRIPT[0])

    def baseline_stack(self, project: Path) -> Stack:
        """The baseline's action server and `rasa run`, launched at the same moment."""
        rasa_port, action_port = free_port(), free_port()
        baseline.set_action_port(project, action_port)
        env = {"RASA_TELEMETRY_ENABLED": "false"}
        commands = [
            Command(
                "action-server",
                baseline.action_server_command(action_port),
                project,
                {**env, "SANIC_HOST": "127.0.0.1"},
            ),
            Command("rasa-run", baseline.rasa_command(rasa_port), project, env),
        ]
        url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
        return Stack("baseline", commands, url, WORK / "logs", greeting=baseline.LOAD_SCRIPT[0])

    def measure(
        self, name: str, stack: Stack, script: Sequence[str], long_script: tuple[Sequence[str], ...]
    ) -> None:
        """Cold start, warm-up, load levels, long conversations, peak RSS; then stop."""
        bot = self.results["bots"][name]
        bounds = self.bounds
        try:
            with self.phase(f"{name}: cold start to first answer") as record:
                stack.start()
                cold = stack.wait_first_answer()
                record["summary"] = f"{cold:.1f} s"
            bot["cold_start_seconds"] = round(cold, 2)

            with self.phase(f"{name}: warm-up ({bounds.warmup} messages)") as record:
                bot["warmup_errors"] = run_warm_up(stack.url, script, bounds.warmup)
                record["summary"] = f"{bot['warmup_errors']} errors"

            bot["load"] = {}
            for level in report.LEVELS:
                with self.phase(f"{name}: load, {level} concurrent") as record:
                    result: LoadResult = asyncio.run(
                        run_load(
                            stack.url,
                            script,
                            level,
                            bounds.max_messages[level],
                            bounds.max_seconds,
                            sender_prefix=f"{name}-c{level}",
                        )
                    )
                    stack.check_alive()
                    stack.sample_rss()
                    record["summary"] = (
                        f"{result.messages} msgs, {result.throughput} msg/s, p50 {result.p50} "
                        f"p95 {result.p95} p99 {result.p99} ms, {result.errors} errors"
                    )
                bot["load"][str(level)] = result.as_dict()
                self.samples[name][str(level)] = list(result.samples)

            opening, repeated = long_script
            runs: list[list[float]] = []
            failures: list[str] = []
            with self.phase(
                f"{name}: {bounds.turn_runs} × one conversation of {bounds.turns} turns"
            ) as record:
                for run in range(bounds.turn_runs):
                    try:
                        runs.append(
                            asyncio.run(
                                turn_latencies(
                                    stack.url, opening, repeated, bounds.turns, f"{name}-long-{run}"
                                )
                            )
                        )
                    except Exception as exc:  # noqa: BLE001 - reported
                        failures.append(f"{type(exc).__name__}: {exc}"[:300])
                stack.sample_rss()
                summary = report.turn_summary(runs)
                record["summary"] = f"turns {summary['at']} ms, {len(failures)} failed runs"
            bot["turns"] = {**summary, "failed_runs": failures}
            self.turn_medians[name] = summary["median_ms"]
            bot["turns"]["median_ms"] = summary["median_ms"]
        finally:
            with self.phase(f"{name}: stop", timed=False):
                with contextlib.suppress(Exception):
                    stack.sample_rss()
                stack.stop()
            bot["rss"] = stack.rss_report()

    # ------------------------------------------------------------------ quality

    def quality(self) -> None:
        """Our held-out NLU evaluation and the red-flag set (in parallel unless serial)."""
        ours_cmd = self.nlu_command("ours", nlu.OURS_CONFIG)
        flags_cmd = [PYTHON, str(ROOT / "scripts" / "red_flag_eval.py")]
        flags_env = {**rasa_env(), "AFTERCARE_MODELS_DIR": str(WORK / "models")}
        flags_log = WORK / "logs" / "red_flags.log"
        if self.args.no_background:
            with self.phase("ours: held-out NLU evaluation", timed=False):
                self.run_quiet(ours_cmd, rasa_env(), WORK / "logs" / "nlu.ours.log")
            with self.phase("red-flag set through aftercare ask --jsonl", timed=False):
                self.run_quiet(flags_cmd, flags_env, flags_log)
        else:
            with self.phase("ours: held-out NLU evaluation + red-flag set (parallel)", timed=False):
                procs = []
                for cmd, env, log in (
                    (ours_cmd, rasa_env(), WORK / "logs" / "nlu.ours.log"),
                    (flags_cmd, flags_env, flags_log),
                ):
                    with log.open("wb") as out:
                        procs.append(
                            subprocess.Popen(
                                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                            )
                        )
                for proc in procs:
                    proc.wait()
        self.results["nlu"]["ours"] = self.nlu_result("ours")
        self.results["safety"] = read_red_flags(flags_log, self.started_wall)

    def run_quiet(self, cmd: Sequence[str], env: dict[str, str], log: Path) -> int:
        """Run a command with its output in `log`; its exit code (failures are in the results)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            return subprocess.run(
                list(cmd), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            ).returncode

    def default_nlu(self) -> None:
        """Wait for (or, serially, run) the default pipeline's held-out evaluation."""
        if self.args.quick:
            self.results["nlu"]["default"] = {"name": "default", "ok": False, "error": "--quick"}
            self.results["background"] = {"mode": "skipped (--quick)"}
            return
        if self.background is not None:
            if self.background.poll() is None:
                # Every process of the job (rasa train / test included) should be SCHED_IDLE.
                self.results["background"]["policies_before_wait"] = tree_policies(
                    self.background.pid
                )
            with self.phase("default pipeline NLU (waiting for the background job)", timed=False):
                self.background.wait()
        else:
            self.results["background"] = {
                "mode": "serial (--no-background), after the timed phases"
            }
            with self.phase("default pipeline: held-out NLU evaluation (DIET)", timed=False):
                self.run_quiet(
                    self.nlu_command("default", nlu.DEFAULT_CONFIG),
                    rasa_env(),
                    WORK / "logs" / "nlu.default.log",
                )
        self.results["nlu"]["default"] = self.nlu_result("default")

    # ------------------------------------------------------------------ main

    def run(self) -> int:
        """Every phase, then the report."""
        self.started_wall = time.time()
        if WORK.exists():
            shutil.rmtree(WORK)
        (WORK / "logs").mkdir(parents=True)
        self.results["machine"] = machine_info()
        self.results["settings"] = {
            "quick": self.args.quick,
            "levels": list(report.LEVELS),
            "max_messages": {str(k): v for k, v in self.bounds.max_messages.items()},
            "max_seconds": self.bounds.max_seconds,
            "warmup": self.bounds.warmup,
            "turns": self.bounds.turns,
            "turn_runs": self.bounds.turn_runs,
            "ours_script": list(OURS_SCRIPT),
            "ours_long": {"opening": list(OURS_LONG_OPENING), "repeated": list(OURS_LONG_REPEATED)},
            "baseline_script": list(baseline.LOAD_SCRIPT),
            "baseline_long": {
                "opening": list(baseline.LONG_OPENING),
                "repeated": list(baseline.LONG_REPEATED),
            },
        }
        self.say(
            f"work dir {WORK.relative_to(ROOT)}; {report.machine_line(self.results['machine'])}"
        )

        with self.phase("split data/nlu (held-out 20%)", timed=False):
            train_file, test_file = nlu.split(WORK / "nlu")
        self.results["nlu"]["split"] = {
            "seed": nlu.SPLIT_SEED,
            "training_fraction": nlu.TRAINING_FRACTION,
            "n_train": nlu.count_examples(train_file),
            "n_test": nlu.count_examples(test_file),
        }
        default_pipeline = [dict(c) for c in nlu.cp.pipeline_of(nlu.DEFAULT_CONFIG)]
        self.results["nlu"]["default_matches_rasa"] = (
            default_pipeline == nlu.rasa_default_pipeline()
        )
        if not self.args.quick and not self.args.no_background:
            self.start_background_default_nlu()

        try:
            self.train_ours()
            project = self.train_baseline()
            self.measure(
                "ours", self.ours_stack(), OURS_SCRIPT, (OURS_LONG_OPENING, OURS_LONG_REPEATED)
            )
            self.results["bots"]["ours"]["escalations_created"] = count_escalations(
                WORK / "ours" / "app.db"
            )
            self.measure(
                "baseline",
                self.baseline_stack(project),
                baseline.LOAD_SCRIPT,
                (baseline.LONG_OPENING, baseline.LONG_REPEATED),
            )
            self.quality()
            self.default_nlu()
        finally:
            if self.background is not None and self.background.poll() is None:
                stop_tree(self.background.pid)  # bench.nlu and the rasa process it runs
                self.background.wait()
        return self.write_report()

    def write_report(self) -> int:
        """bench.json, bench.md, bench_readme.md and the plots; print the table."""
        out: Path = self.args.out
        images_dir = out / "bench"
        images_dir.mkdir(parents=True, exist_ok=True)
        with self.phase("report and plots", timed=False):
            images = {
                "latency_distribution": report.plot_latency_distribution(
                    self.samples, images_dir / "latency_distribution.png"
                ),
                "latency_vs_turn": report.plot_latency_vs_turn(
                    self.turn_medians, images_dir / "latency_vs_turn.png"
                ),
                "throughput_vs_concurrency": report.plot_throughput(
                    {
                        bot: {
                            lvl: r.get("throughput")
                            for lvl, r in (self.results["bots"][bot].get("load") or {}).items()
                        }
                        for bot in ("ours", "baseline")
                    },
                    images_dir / "throughput_vs_concurrency.png",
                ),
            }
            for key in ("ours", "default"):
                matrix = (self.results["nlu"].get(key) or {}).get("confusion_matrix")
                if matrix and Path(matrix).exists():
                    images[key] = Path(shutil.copyfile(matrix, images_dir / f"confusion_{key}.png"))
            links = {k: str(v.relative_to(out)) for k, v in images.items()}
            (WORK / "samples.json").write_text(json.dumps(self.samples))

        self.results["phases"] = self.phases
        self.results["total_seconds"] = round(time.perf_counter() - self.started, 1)
        self.results["budget_seconds"] = report.BUDGET_SECONDS
        self.results["ratios"] = report.ratios(self.results["bots"])
        self.results["targets"] = report.as_dicts(report.evaluate_targets(self.results))
        self.results["images"] = links
        (out / "bench.json").write_text(
            json.dumps(self.results, indent=2, ensure_ascii=False) + "\n"
        )
        (out / "bench.md").write_text(report.render_markdown(self.results, links))
        block = report.readme_block(self.results)
        (out / "bench_readme.md").write_text(block + "\n")
        print()
        print(block)
        print()
        print(
            f"Total {self.results['total_seconds']:.0f} s. Written: {out / 'bench.json'}, "
            f"{out / 'bench.md'}, {out / 'bench_readme.md'}, {images_dir}/*.png"
        )
        return 0


# --------------------------------------------------------------------------- helpers


def rasa_env() -> dict[str, str]:
    """The environment for Rasa subprocesses: no telemetry, quiet TensorFlow."""
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def fresh_dir(path: Path) -> Path:
    """An empty directory at `path`."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


POLICY_NAMES = {
    os.SCHED_OTHER: "SCHED_OTHER",
    os.SCHED_BATCH: "SCHED_BATCH",
    os.SCHED_IDLE: "SCHED_IDLE",
    os.SCHED_FIFO: "SCHED_FIFO",
    os.SCHED_RR: "SCHED_RR",
}


def scheduling_policy(pid: int) -> str:
    """The scheduling policy of a process (e.g. SCHED_IDLE); "gone" if it exited."""
    try:
        policy = os.sched_getscheduler(pid)
    except OSError:
        return "gone"
    return POLICY_NAMES.get(policy & ~getattr(os, "SCHED_RESET_ON_FORK", 0), str(policy))


def tree_policies(pid: int) -> dict[str, str]:
    """The scheduling policy of a process and each of its descendants, by label."""
    return {
        f"{pid_}: {process_label(cmdline(pid_))}": scheduling_policy(pid_)
        for pid_ in descendants([pid])
        if cmdline(pid_)
    }


def wait_for_policy(pid: int, wanted: str, timeout: float = 5.0) -> str:
    """The process's policy once it is `wanted` (chrt sets it just before exec), or at timeout."""
    deadline = time.monotonic() + timeout
    policy = scheduling_policy(pid)
    while policy != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        policy = scheduling_policy(pid)
    return policy


def count_escalations(db: Path) -> int | None:
    """Staff alerts in the app database (the load scripts should create none)."""
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return conn.execute("SELECT count(*) FROM escalations").fetchone()[0]
    except sqlite3.Error:
        return None


def read_red_flags(log: Path, since: float) -> dict[str, Any]:
    """Recall and false-alarm rate from results/red_flags.json (written by red_flag_eval.py)."""
    path = ROOT / "results" / "red_flags.json"
    if not path.exists() or path.stat().st_mtime < since:
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        return {"error": f"red_flag_eval.py wrote no results: {tail}"}
    data = json.loads(path.read_text())
    rank = {"none": 0, "question": 1, "urgent": 2, "emergency": 3}
    cases = data.get("cases") or []
    severe = [c for c in cases if rank.get(c.get("level"), 0) >= rank["urgent"]]
    calm = [c for c in cases if c.get("level") == "none"]
    missed = [c for c in severe if rank.get(c.get("got"), 0) < rank[c["level"]]]
    alarms = [c for c in calm if rank.get(c.get("got"), 0) >= rank["urgent"]]
    return {
        "recall": data.get("recall"),
        "false_alarm_rate": data.get("false_alarm_rate"),
        "cases": len(cases),
        "severe": len(severe),
        "calm": len(calm),
        "missed": len(missed),
        "false_alarms": len(alarms),
        "missed_cases": [{k: c.get(k) for k in ("text", "day", "level", "got")} for c in missed],
        "via": "scripts/red_flag_eval.py (aftercare ask --jsonl), details in results/red_flags.json",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--no-background",
        action="store_true",
        help="run everything strictly one after the other (the default pipeline's DIET "
        "training after the timed phases instead of in the background)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "results", help="where the reports go (default results)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny bounds for a smoke test; skips the default pipeline's (DIET) training",
    )
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit code 1 if it could not complete."""
    args = parse_args(argv)
    bench = Bench(args)
    try:
        return bench.run()
    except (StackError, RuntimeError) as exc:
        bench.say(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        bench.say("interrupted; the bots were stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
