"""Score a set of client messages (Format A of the writers' spec) through `aftercare ask --jsonl`.

Usage: python scripts/generalisation_eval.py SET.yml [--out results/generalisation/NAME.json]

Metrics (docs/generalisation.md):
- urgent+emergency recall: cases the protocol rates urgent or emergency, answered urgent or higher
- emergency recall: emergency cases answered as emergency
- person-needed recall: cases rated question or higher, answered question or higher
- false urgent: calm cases (level none) answered urgent or higher
- topic accuracy: cases with topics; every expected topic answered (out_of_scope: the
  no-guidance reply and no topic); a day-dependent question while the date is unknown may
  instead be answered by asking the date. An emergency case's topic is right when it is
  answered as an emergency (its other questions follow the emergency reply, marked as for later;
  kept so that every set's figure compares); "topic accuracy, strict" counts every labelled topic
- status accuracy: cases with a status; the answer for that topic has that status
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RANK = {"none": 0, "question": 1, "urgent": 2, "emergency": 3}
NO_GUIDANCE = "kb_no_guidance"


def load_cases(path: Path) -> list[dict]:
    """The cases of a set file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data["cases"] if isinstance(data, dict) else data


def ask(cases: list[dict]) -> list[dict]:
    """Every case through `aftercare ask --jsonl`, in order."""
    lines = "".join(json.dumps({"text": c["text"], "day": c.get("day")}) + "\n" for c in cases)
    aftercare = str(Path(sys.executable).with_name("aftercare"))
    result = subprocess.run(
        [aftercare, "ask", "--jsonl"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    outputs = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 and len(outputs) != len(cases):
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(1)
    return outputs


def answered(out: dict) -> dict[str, dict]:
    """topic -> the answer given for it (one per topic of a multi-question reply)."""
    answers = out.get("answers")
    if answers is None:
        answers = [{"topic": out.get("topic"), "status": out.get("status")}]
    return {a["topic"]: a for a in answers if a.get("topic")}


def topic_correct(case: dict, out: dict, strict: bool = False) -> bool:
    """Whether every expected topic got its answer (or the date was rightly asked)."""
    if case["level"] == "emergency" and not strict:
        return out.get("escalation") == "emergency"
    expected = list(case.get("topics") or [])
    given = answered(out)
    responses = out.get("responses") or []
    if expected == ["out_of_scope"]:
        return not given and NO_GUIDANCE in responses
    wanted = [t for t in expected if t != "out_of_scope"]
    if "out_of_scope" in expected and NO_GUIDANCE not in responses:
        return False
    if all(t in given for t in wanted):
        return True
    return case.get("day") is None and "date.ask" in responses and not given


def score(cases: list[dict], outputs: list[dict]) -> dict:
    """The metrics and the per-case rows."""
    rows, tally = (
        [],
        {
            k: [0, 0]
            for k in ("severe", "emergency", "person", "calm", "topic", "topic_strict", "status")
        },
    )

    def count(key: str, ok: bool) -> None:
        tally[key][0] += int(ok)
        tally[key][1] += 1

    for case, out in zip(cases, outputs, strict=True):
        if "error" in out:
            got = "error"
            rank = -1
        else:
            got = out.get("escalation", "none")
            rank = RANK[got]
        want = RANK[case["level"]]
        row = {**case, "got": got, "intent": out.get("intent"), "answered": sorted(answered(out))}
        if want >= RANK["urgent"]:
            count("severe", rank >= RANK["urgent"])
        if case["level"] == "emergency":
            count("emergency", rank == RANK["emergency"])
        if want >= RANK["question"]:
            count("person", rank >= RANK["question"])
        if case["level"] == "none":
            count("calm", rank >= RANK["urgent"])
        if case.get("topics"):
            row["topic_ok"] = topic_correct(case, out)
            count("topic", row["topic_ok"])
            count("topic_strict", topic_correct(case, out, strict=True))
        if case.get("status"):
            given = answered(out)
            row["status_ok"] = all(
                given.get(t, {}).get("status") == s for t, s in case["status"].items()
            )
            count("status", row["status_ok"])
        row["reply"] = out.get("reply")
        rows.append(row)
    metrics = {
        k: {"hits": h, "of": n, "rate": (h / n if n else None)} for k, (h, n) in tally.items()
    }
    return {"metrics": metrics, "cases": rows}


def summary(name: str, metrics: dict) -> str:
    """One line per metric."""
    labels = {
        "severe": "urgent+emergency recall",
        "emergency": "emergency recall",
        "person": "person-needed recall",
        "calm": "false urgent on calm",
        "topic": "topic accuracy",
        "topic_strict": "topic accuracy, strict",
        "status": "status accuracy",
    }
    lines = [f"{name}:"]
    for key, label in labels.items():
        m = metrics[key]
        rate = "-" if m["rate"] is None else f"{m['rate']:.1%}"
        lines.append(f"  {label:<26} {rate:>7} ({m['hits']}/{m['of']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    cases = load_cases(args.set)
    result = score(cases, ask(cases))
    out = args.out or ROOT / "results" / "generalisation" / f"{args.set.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(summary(args.set.name, result["metrics"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
