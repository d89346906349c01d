"""Red-flag gate for `make test`: the red-flag sets through `aftercare ask --jsonl`.

Every case is a client message, their treatment day and the level the protocol requires.
Fails below 100% recall of urgent/emergency (an emergency answered as urgent is a miss), or
above 3% false urgent alarms on the calm cases, overall or in any one set. Per-case results: results/red_flags.json.

The same run also guards the answers (NLU and knowledge base) against regressions: on the
merged held-out sets (tuned on, so a floor, never a claim; claims are first runs, see
docs/generalisation.md) topic and status accuracy must stay at or above their floors. This
replaced the NLU cross-validation in `make test` (now in `make bench`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from generalisation_eval import score

ROOT = Path(__file__).resolve().parent.parent
# The project's red-flag sets, and every held-out set merged after its first run
# (docs/generalisation.md).
SETS = sorted((ROOT / "tests" / "data").glob("red_flags*.yml")) + sorted(
    (ROOT / "tests" / "data" / "heldout").glob("*.yml")
)
RANK = {"none": 0, "question": 1, "urgent": 2, "emergency": 3}
MAX_FALSE_ALARM_RATE = 0.03
# Lowest accepted accuracy on the merged held-out sets, a little under what they measure
# (README), so a real regression fails and a retrain's small wobble does not.
ANSWER_FLOORS = {"topic": 0.88, "status": 0.95}


def main() -> int:
    """Run every case once; print recall and false-alarm rate; exit 1 if a gate fails."""
    cases = []
    for path in SETS:
        for case in yaml.safe_load(path.read_text())["cases"]:
            cases.append({**case, "set": path.name, "heldout": path.parent.name == "heldout"})
    lines = "".join(json.dumps({"text": c["text"], "day": c["day"]}) + "\n" for c in cases)
    aftercare = str(Path(sys.executable).with_name("aftercare"))
    result = subprocess.run(
        [aftercare, "ask", "--jsonl"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode not in (0, 1):  # 1: some turn failed, reported below
        print(result.stderr[-3000:], file=sys.stderr)
        return 1
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outputs) == len(cases), "ask returned a different number of lines"
    failed = [o for o in outputs if "error" in o]
    if failed:
        print(f"FAIL: {len(failed)} turn(s) got no reply: {failed[:3]}", file=sys.stderr)
        return 1
    misses, false_alarms, report = [], [], []
    for case, out in zip(cases, outputs, strict=True):
        got = out.get("escalation", "none")
        row = {**case, "got": got, "intent": out.get("intent"), "entry": out.get("entry")}
        report.append(row)
        if RANK[case["level"]] >= RANK["urgent"] and RANK[got] < RANK[case["level"]]:
            misses.append(row)
        elif case["level"] == "none" and RANK[got] >= RANK["urgent"]:
            false_alarms.append(row)
    severe = sum(1 for c in cases if RANK[c["level"]] >= RANK["urgent"])
    calm = sum(1 for c in cases if c["level"] == "none")
    recall = 1 - len(misses) / severe
    false_rate = len(false_alarms) / calm
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "red_flags.json").write_text(
        json.dumps({"recall": recall, "false_alarm_rate": false_rate, "cases": report}, indent=1)
    )
    _print_rows(misses, false_alarms)
    print(
        f"Red flags ({len(cases)} cases, {', '.join(p.name for p in SETS)}): urgent/emergency recall "
        f"{recall:.1%} ({severe - len(misses)}/{severe}); false urgent alarms on calm cases {false_rate:.1%} "
        f"({len(false_alarms)}/{calm})"
    )
    over = _sets_over_false_alarm_limit(cases, false_alarms)
    answers_hold = _answers_hold(cases, outputs)
    if misses or false_rate > MAX_FALSE_ALARM_RATE or over:
        print(
            "FAIL: red-flag recall must be 100% and false alarms at most 3% (overall and in "
            f"every set; over: {', '.join(over) or 'none'})",
            file=sys.stderr,
        )
        return 1
    return 0 if answers_hold else 1


def _answers_hold(cases: list[dict], outputs: list[dict]) -> bool:
    """Topic and status accuracy on the held-out sets, printed; False below a floor."""
    pairs = [(c, o) for c, o in zip(cases, outputs, strict=True) if c["heldout"]]
    metrics = score([c for c, _ in pairs], [o for _, o in pairs])["metrics"]
    ok = True
    for key, floor in ANSWER_FLOORS.items():
        m = metrics[key]
        rate = "n/a" if m["rate"] is None else f"{m['rate']:.1%}"
        print(
            f"Answers on the merged held-out sets: {key} accuracy {rate}"
            f" ({m['hits']}/{m['of']}), floor {floor:.0%}"
        )
        if m["rate"] is None or m["rate"] < floor:
            print(f"FAIL: {key} accuracy below its floor of {floor:.0%}", file=sys.stderr)
            ok = False
    return ok


def _print_rows(misses: list[dict], false_alarms: list[dict]) -> None:
    """Each missed red flag and each false alarm, one line each."""
    for row in misses:
        print(
            f"  MISSED  day {row['day']} expected {row['level']}, got {row['got']}: {row['text']}"
        )
    for row in false_alarms:
        print(f"  FALSE ALARM  day {row['day']} got {row['got']}: {row['text']}")


def _sets_over_false_alarm_limit(cases: list[dict], false_alarms: list[dict]) -> list[str]:
    """The sets whose own false-alarm rate is above the limit, each printed with its rate."""
    over = []
    for name in dict.fromkeys(c["set"] for c in cases):
        calm = sum(1 for c in cases if c["set"] == name and c["level"] == "none")
        alarms = sum(1 for row in false_alarms if row["set"] == name)
        rate = alarms / calm if calm else 0.0
        print(f"  {name}: false urgent alarms {rate:.1%} ({alarms}/{calm})")
        if rate > MAX_FALSE_ALARM_RATE:
            over.append(name)
    return over


if __name__ == "__main__":
    sys.exit(main())
