"""Start and stop a bot's processes for the benchmark; cold start and peak memory (Linux /proc).

A `Stack` is the processes one bot needs (ours: `aftercare run`, which starts its own children;
the baseline: its action server and `rasa run`). Every process logs to a file (never a pipe
nobody reads). Peak RSS is each process's `VmHWM` from /proc/<pid>/status, for the launched
processes and all their descendants (found through the ppid field of /proc/<pid>/stat).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import child_env
from bench.load import _check_loopback, run_load

PROC = Path("/proc")


@dataclass
class Command:
    """One process to launch: argv, working directory, extra environment, stop signal."""

    name: str
    argv: list[str]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    #: Variables of the bench's own environment NOT passed on (e.g. TELEGRAM_: no real chats).
    unset_prefixes: tuple[str, ...] = ()
    stop_signal: int = signal.SIGINT

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` without the unset prefixes, plus this command's own variables."""
        kept = {k: v for k, v in base.items() if not k.startswith(self.unset_prefixes)}
        return {**kept, **self.env}


@dataclass
class Process:
    """A launched command and its log file."""

    command: Command
    popen: subprocess.Popen
    log: Path


class StackError(RuntimeError):
    """A process of the stack stopped or did not answer in time."""


# --------------------------------------------------------------------------- /proc helpers


def parent_pid(pid: int, proc: Path = PROC) -> int | None:
    """The ppid of `pid` from /proc/<pid>/stat (None if it is gone)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: parse after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1])


def descendants(pids: Sequence[int], proc: Path = PROC) -> list[int]:
    """`pids` and every process below them (children, grandchildren...), in pid order."""
    parents: dict[int, int] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            ppid = parent_pid(int(entry.name), proc)
            if ppid is not None:
                parents[int(entry.name)] = ppid
    found = set(pids)
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    return sorted(found)


def peak_rss_mb(pid: int, proc: Path = PROC) -> float | None:
    """The process's peak resident set size (VmHWM) in MB, or None if it is gone."""
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)  # kB -> MiB
    return None


def tree_cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """CPU seconds (user + system) used so far by a process and all its descendants.

    Each process's own time plus the time of its children already waited for (cutime,
    cstime), so a finished child is counted once, through its parent.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in descendants([pid], proc):
        try:
            stat = (proc / str(member) / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def machine_busy_seconds(proc: Path = PROC) -> float:
    """CPU seconds all CPUs spent busy since boot (user, nice, system, irq, softirq)."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("cpu "):
            user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in line.split()[1:8])
            return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    raise OSError("no cpu line in /proc/stat")


def process_label(argv: Sequence[str]) -> str:
    """A short readable name for a command line (interpreter and paths left out).

    `python -m bot.serve.rasa_server run --model ...` -> `bot.serve.rasa_server run`;
    `python /venv/bin/aftercare run --port 1` -> `aftercare run`; `/venv/bin/rasa run actions
    --actions actions` -> `rasa run actions`.
    """
    args = list(argv)
    if not args:
        return "?"
    if Path(args[0]).name.startswith("python"):
        args = args[1:]
        if args[:1] == ["-m"]:
            args = args[1:]
    if not args:
        return Path(argv[0]).name
    words = [Path(args[0]).name]
    for arg in args[1:3]:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join(words)


def cmdline(pid: int, proc: Path = PROC) -> list[str]:
    """The argv of a running process ([] if it is gone)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def sample_rss(pids: Sequence[int], seen: dict[int, dict] | None = None) -> dict[int, dict]:
    """Peak RSS of `pids` and their descendants, merged into `seen` (pid -> name, peak_mb)."""
    seen = {} if seen is None else seen
    for pid in descendants(pids):
        peak = peak_rss_mb(pid)
        argv = cmdline(pid)
        if peak is None or not argv:
            continue
        row = seen.setdefault(pid, {"pid": pid, "name": process_label(argv), "peak_mb": 0.0})
        row["peak_mb"] = max(row["peak_mb"], peak)
    return seen


# --------------------------------------------------------------------------- the stack


class Stack:
    """The processes of one bot, launched together, stopped together."""

    def __init__(
        self,
        name: str,
        commands: Sequence[Command],
        url: str,
        log_dir: Path,
        greeting: str = "hi",
    ):
        """`url`: the REST webhook; `greeting`: the message the cold-start probe sends."""
        _check_loopback(url)
        self.name, self.commands, self.url, self.greeting = name, list(commands), url, greeting
        self.log_dir = Path(log_dir)
        self.processes: list[Process] = []
        self.rss: dict[int, dict] = {}
        self.launched_at: float | None = None

    def start(self) -> None:
        """Launch every command at once (no waiting between them)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.launched_at = time.perf_counter()
        for command in self.commands:
            log = self.log_dir / f"{self.name}.{command.name}.log"
            with log.open("ab") as out:
                popen = subprocess.Popen(
                    command.argv,
                    cwd=command.cwd,
                    env=command.environment(child_env()),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self.processes.append(Process(command, popen, log))

    def check_alive(self) -> None:
        """Raise StackError (with the log's tail) if a launched process stopped."""
        for process in self.processes:
            if process.popen.poll() is not None:
                tail = process.log.read_text(errors="replace")[-3000:]
                raise StackError(
                    f"{self.name}: {process.command.name} stopped "
                    f"(exit {process.popen.returncode}):\n{tail}"
                )

    def wait_first_answer(self, timeout: float = 240, poll: float = 0.2) -> float:
        """Seconds from launch until the first non-empty REST reply to a fresh sender."""
        if self.launched_at is None:
            raise StackError("start() first")
        attempt = 0
        deadline = self.launched_at + timeout
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() < deadline:
                self.check_alive()
                attempt += 1
                try:
                    body = {"sender": f"cold-start-{attempt}", "message": self.greeting}
                    response = client.post(self.url, json=body)
                    if response.status_code == 200 and response.json():
                        return time.perf_counter() - self.launched_at
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(poll)
        raise StackError(f"{self.name}: no answer within {timeout:.0f} s")

    def sample_rss(self) -> None:
        """Record the peak RSS of every process of the stack so far."""
        sample_rss([p.popen.pid for p in self.processes], self.rss)

    def rss_report(self) -> dict:
        """{"processes": [{pid, name, peak_mb}], "total_mb": sum}, largest first."""
        rows = sorted(self.rss.values(), key=lambda r: -r["peak_mb"])
        return {"processes": rows, "total_mb": round(sum(r["peak_mb"] for r in rows), 1)}

    def stop(self, timeout: float = 30) -> None:
        """Stop every process (its stop signal, then SIGKILL) and any descendant left over."""
        pids = descendants([p.popen.pid for p in self.processes if p.popen.poll() is None])
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(process.command.stop_signal)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
        # Children of a stopped process that are still there (only the ones we started).
        for pid in pids:
            if pid in {p.popen.pid for p in self.processes}:
                continue
            if cmdline(pid):
                _wait_gone(pid, max(1.0, deadline - time.monotonic()))

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_tree(pid: int, timeout: float = 10) -> None:
    """SIGTERM a process and all its descendants; SIGKILL whatever is left after `timeout`."""
    members = descendants([pid])
    for member in members:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for member in members:
        _wait_gone(member, max(0.1, deadline - time.monotonic()))


def _wait_gone(pid: int, timeout: float) -> None:
    """Wait for a process to exit; SIGKILL it after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (PROC / str(pid)).exists() or _is_zombie(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].split()[0] == "Z"


async def warm_up(url: str, script: Sequence[str], messages: int) -> int:
    """Send `messages` messages (one conversation at a time); how many failed."""
    result = await run_load(url, script, 1, messages, 120, sender_prefix="warmup")
    return result.errors


def run_warm_up(url: str, script: Sequence[str], messages: int) -> int:
    """Synchronous `warm_up`."""
    return asyncio.run(warm_up(url, script, messages))
