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
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import baseline, bots, nlu, plots, report
from bench.common import ROOT, rasa_env
from bench.compare import SPLIT_SEED, TRAINING_FRACTION, pipeline_of
from bench.figures import LEVELS
from bench.machine import machine_info, tree_policies, wait_for_policy
from bench.measure import FULL, QUICK, BotRun
from bench.phases import Phases, fresh_dir, run_logged, run_quiet
from bench.quality import count_escalations, read_nlu_result, read_red_flags
from bench.stack import Stack, StackError, stop_tree
from bench.tables import machine_line, ratios
from bench.targets import BUDGET_SECONDS, as_dicts, evaluate_targets

WORK = ROOT / "var" / "bench" / "run"
PYTHON = sys.executable


class Bench(Phases):
    """One benchmark run: its phases (timed, with progress lines) and the results."""

    def __init__(self, args: argparse.Namespace):
        super().__init__()
        self.args = args
        self.bounds = QUICK if args.quick else FULL
        self.results: dict[str, Any] = {"bots": {"ours": {}, "baseline": {}}, "nlu": {}}
        self.samples: dict[str, dict[str, list[float]]] = {"ours": {}, "baseline": {}}
        self.turn_medians: dict[str, list[float]] = {}

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

    def split_nlu(self) -> None:
        """Split data/nlu once (held-out 20%); check the default pipeline is Rasa's."""
        with self.phase("split data/nlu (held-out 20%)", timed=False):
            train_file, test_file = nlu.split(WORK / "nlu")
        self.results["nlu"]["split"] = {
            "seed": SPLIT_SEED,
            "training_fraction": TRAINING_FRACTION,
            "n_train": nlu.count_examples(train_file),
            "n_test": nlu.count_examples(test_file),
        }
        default_pipeline = [dict(c) for c in pipeline_of(nlu.DEFAULT_CONFIG)]
        self.results["nlu"]["default_matches_rasa"] = (
            default_pipeline == nlu.rasa_default_pipeline()
        )

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
        return read_nlu_result(WORK / "nlu" / f"{name}.json", name)

    # ------------------------------------------------------------------ training

    def train_ours(self) -> None:
        """`bot.serve.training.train(force=True)` into the work dir, with a fresh Rasa cache."""
        with self.phase("train ours (rasa train, fresh cache)") as record:
            env = rasa_env({"RASA_CACHE_DIRECTORY": str(fresh_dir(WORK / "cache-ours"))})
            code = (
                "from pathlib import Path; from bot.serve.training import train; "
                f"train(Path({str(ROOT)!r}), Path({str(WORK / 'models')!r}), force=True)"
            )
            wall, cpu = run_logged(
                [PYTHON, "-c", code], ROOT, env, WORK / "logs" / "train.ours.log"
            )
            record["summary"] = f"CPU {cpu:.0f} s"
        bot = self.results["bots"]["ours"]
        bot["train_seconds"], bot["train_cpu_seconds"] = round(wall, 1), round(cpu, 1)

    def train_baseline(self) -> Path:
        """Build the rasa init bot and `rasa train` it with a fresh Rasa cache."""
        project = baseline.build(WORK / "baseline", action_port=0)  # port set before serving
        with self.phase("train baseline (rasa train, fresh cache)") as record:
            env = rasa_env({"RASA_CACHE_DIRECTORY": str(fresh_dir(WORK / "cache-baseline"))})
            wall, cpu = run_logged(
                baseline.train_command(), project, env, WORK / "logs" / "train.baseline.log"
            )
            record["summary"] = f"CPU {cpu:.0f} s"
        bot = self.results["bots"]["baseline"]
        bot["train_seconds"], bot["train_cpu_seconds"] = round(wall, 1), round(cpu, 1)
        return project

    # ------------------------------------------------------------------ serving

    def measure(
        self, name: str, stack: Stack, script: Sequence[str], long_script: tuple[Sequence[str], ...]
    ) -> None:
        """Cold start, warm-up, load levels, long conversations, peak RSS; then stop."""
        bot_run = BotRun(self, self.bounds, stack, self.results["bots"][name], self.samples[name])
        self.turn_medians[name] = bot_run.measure(script, long_script)

    # ------------------------------------------------------------------ quality

    def quality(self) -> None:
        """Our held-out NLU evaluation and the red-flag set (in parallel unless serial)."""
        ours_cmd = self.nlu_command("ours", nlu.OURS_CONFIG)
        flags_cmd = [PYTHON, str(ROOT / "scripts" / "red_flag_eval.py")]
        flags_env = rasa_env({"AFTERCARE_MODELS_DIR": str(WORK / "models")})
        flags_log = WORK / "logs" / "red_flags.log"
        if self.args.no_background:
            with self.phase("ours: held-out NLU evaluation", timed=False):
                run_quiet(ours_cmd, ROOT, rasa_env(), WORK / "logs" / "nlu.ours.log")
            with self.phase("red-flag set through aftercare ask --jsonl", timed=False):
                run_quiet(flags_cmd, ROOT, flags_env, flags_log)
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
                run_quiet(
                    self.nlu_command("default", nlu.DEFAULT_CONFIG),
                    ROOT,
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
        self.results["settings"] = self.settings()
        self.say(f"work dir {WORK.relative_to(ROOT)}; {machine_line(self.results['machine'])}")
        self.split_nlu()
        if not self.args.quick and not self.args.no_background:
            self.start_background_default_nlu()
        try:
            self.train_ours()
            project = self.train_baseline()
            self.measure(
                "ours",
                bots.ours_stack(WORK),
                bots.OURS_SCRIPT,
                (bots.OURS_LONG_OPENING, bots.OURS_LONG_REPEATED),
            )
            self.results["bots"]["ours"]["escalations_created"] = count_escalations(
                WORK / "ours" / "app.db"
            )
            self.measure(
                "baseline",
                bots.baseline_stack(project, WORK),
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

    def settings(self) -> dict[str, Any]:
        """The bounds and scripts of this run, for the report."""
        return {
            "quick": self.args.quick,
            "levels": list(LEVELS),
            "max_messages": {str(k): v for k, v in self.bounds.max_messages.items()},
            "max_seconds": self.bounds.max_seconds,
            "warmup": self.bounds.warmup,
            "turns": self.bounds.turns,
            "turn_runs": self.bounds.turn_runs,
            **bots.script_settings(),
        }

    def write_report(self) -> int:
        """bench.json, bench.md, bench_readme.md and the plots; print the table."""
        out: Path = self.args.out
        images_dir = out / "bench"
        images_dir.mkdir(parents=True, exist_ok=True)
        with self.phase("report and plots", timed=False):
            images = plots.plot_all(
                self.results["bots"], self.samples, self.turn_medians, images_dir
            )
            for key in ("ours", "default"):
                matrix = (self.results["nlu"].get(key) or {}).get("confusion_matrix")
                if matrix and Path(matrix).exists():
                    images[key] = Path(shutil.copyfile(matrix, images_dir / f"confusion_{key}.png"))
            links = {k: str(v.relative_to(out)) for k, v in images.items()}
            (WORK / "samples.json").write_text(json.dumps(self.samples))

        self.results["phases"] = self.phases
        self.results["total_seconds"] = round(time.perf_counter() - self.started, 1)
        self.results["budget_seconds"] = BUDGET_SECONDS
        self.results["ratios"] = ratios(self.results["bots"])
        self.results["targets"] = as_dicts(evaluate_targets(self.results))
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
