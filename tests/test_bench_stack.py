"""The benchmark's process helpers (a fake /proc) and the baseline project it builds."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import yaml

from bench import baseline, stack


def fake_process(
    proc,
    pid: int,
    ppid: int,
    argv: list[str],
    hwm_kb: int,
    comm: str = "python",
    ticks=(0, 0, 0, 0),
):
    folder = proc / str(pid)
    folder.mkdir()
    # The command name may contain spaces and parentheses: the parser must cope.
    utime, stime, cutime, cstime = ticks
    (folder / "stat").write_text(
        f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194304 10 0 0 0 "
        f"{utime} {stime} {cutime} {cstime} 20 0 1 0\n"
    )
    (folder / "status").write_text(f"Name:\t{comm}\nVmHWM:\t  {hwm_kb} kB\nVmRSS:\t 1000 kB\n")
    (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def test_descendants_and_peak_rss_from_proc(tmp_path):
    fake_process(tmp_path, 10, 1, ["python", "aftercare", "run"], 51200)
    fake_process(tmp_path, 11, 10, ["python", "-m", "bot.serve.action_server"], 307200, "py (x) y")
    fake_process(tmp_path, 12, 11, ["sh"], 1024)
    fake_process(tmp_path, 20, 1, ["other"], 999999)

    assert stack.descendants([10], tmp_path) == [10, 11, 12]
    assert stack.parent_pid(11, tmp_path) == 10
    assert stack.parent_pid(99, tmp_path) is None
    assert stack.peak_rss_mb(11, tmp_path) == 300.0
    assert stack.peak_rss_mb(99, tmp_path) is None
    assert stack.cmdline(11, tmp_path) == ["python", "-m", "bot.serve.action_server"]


def test_cpu_of_a_process_tree_counts_live_and_finished_children(tmp_path):
    hz = os.sysconf("SC_CLK_TCK")
    # The parent's cutime/cstime hold its children that already exited.
    fake_process(tmp_path, 10, 1, ["chrt"], 1, ticks=(hz, 0, 5 * hz, hz))
    fake_process(tmp_path, 11, 10, ["rasa"], 1, ticks=(3 * hz, hz, 0, 0))
    fake_process(tmp_path, 20, 1, ["other"], 1, ticks=(100 * hz, 0, 0, 0))

    assert stack.tree_cpu_seconds(10, tmp_path) == 11.0


def test_machine_busy_time_counts_everything_but_idle_and_iowait(tmp_path):
    hz = os.sysconf("SC_CLK_TCK")
    (tmp_path / "stat").write_text(
        f"cpu  {4 * hz} {hz} {2 * hz} {500 * hz} {9 * hz} {hz} {hz} 0 0 0\n"
        "cpu0 1 2 3 4 5 6 7 0 0 0\n"
    )
    assert stack.machine_busy_seconds(tmp_path) == 9.0
    assert stack.machine_busy_seconds() > 0  # the real /proc/stat


def test_process_labels_leave_out_interpreters_paths_and_options():
    label = stack.process_label
    assert label(["/v/bin/python", "-m", "bot.serve.rasa_server", "run", "--model", "m"]) == (
        "bot.serve.rasa_server run"
    )
    assert label(["/v/bin/python", "/v/bin/aftercare", "run", "--port", "1"]) == "aftercare run"
    assert label(["/v/bin/python3.10", "/v/bin/rasa", "run", "actions", "--port", "5"]) == (
        "rasa run actions"
    )
    assert label(["/v/bin/python"]) == "python"
    assert label([]) == "?"


def test_commands_can_drop_variables_of_the_bench_environment():
    command = stack.Command("x", ["true"], Path("."), {"A": "1"}, ("TELEGRAM_",))
    env = command.environment({"TELEGRAM_BOT_TOKEN": "secret", "PATH": "/bin", "A": "0"})
    assert env == {"PATH": "/bin", "A": "1"}
    assert stack.Command("y", ["true"], Path(".")).environment({"B": "2"}) == {"B": "2"}


def test_baseline_is_rasa_init_with_one_custom_action(tmp_path):
    project = baseline.build(tmp_path / "baseline", action_port=5123)

    source = baseline.initial_project()
    assert (project / "config.yml").read_text() == (source / "config.yml").read_text()
    assert (project / "data" / "nlu.yml").read_text() == (source / "data" / "nlu.yml").read_text()
    domain = yaml.safe_load((project / "domain.yml").read_text())
    assert domain["actions"] == ["action_hello_world"]
    assert "utter_greet" in domain["responses"]
    stories = yaml.safe_load((project / "data" / "stories.yml").read_text())["stories"]
    actions = [step.get("action") for story in stories for step in story["steps"]]
    assert "utter_greet" not in actions
    assert actions.count("action_hello_world") == len(stories)
    endpoints = yaml.safe_load((project / "endpoints.yml").read_text())
    assert endpoints == {"action_endpoint": {"url": "http://127.0.0.1:5123/webhook"}}
    assert "rest" in yaml.safe_load((project / "credentials.yml").read_text())
    code = (project / "actions" / "actions.py").read_text()
    compile(code, "actions.py", "exec")
    assert 'response="utter_greet"' in code and '"action_hello_world"' in code
    # Half the load script's turns are greetings, which go through the custom action.
    greetings = {"hello", "hi", "hey there", "good morning"}
    assert sum(t in greetings for t in baseline.LOAD_SCRIPT) * 2 >= len(baseline.LOAD_SCRIPT)


def test_stop_tree_stops_a_process_and_its_children():
    parent = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60; wait"])
    deadline = time.monotonic() + 5
    while len(stack.descendants([parent.pid])) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    members = stack.descendants([parent.pid])
    assert len(members) == 3

    stack.stop_tree(parent.pid, timeout=5)
    parent.wait(timeout=5)

    assert all(not stack.cmdline(pid) for pid in members if pid != parent.pid)
