"""NLU evaluation for `make test`: k-fold cross-validation of config.yml on data/nlu.

Writes Rasa's reports (intent report, confusion matrix, errors) under results/nlu/, prints
the intent accuracy and macro-F1, and fails below the floor so a regression cannot land.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lowest cross-validated intent accuracy accepted (the measured value is in README).
ACCURACY_FLOOR = 0.80


def main() -> int:
    """Run the evaluation; exit 1 below the accuracy floor."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "results" / "nlu"))
    parser.add_argument("--floor", type=float, default=ACCURACY_FLOOR, help="lowest accuracy")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rasa = str(Path(sys.executable).with_name("rasa"))
    started = time.monotonic()
    result = subprocess.run(
        [
            rasa,
            "test",
            "nlu",
            "--nlu",
            "data/nlu",
            "--config",
            "config.yml",
            "--cross-validation",
            "--folds",
            str(args.folds),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    (out / "rasa_test_nlu.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
        return 1
    report = json.loads((out / "intent_report.json").read_text())
    accuracy = report["accuracy"]
    macro_f1 = report["macro avg"]["f1-score"]
    summary = {
        "folds": args.folds,
        "intent_accuracy": round(accuracy, 4),
        "intent_macro_f1": round(macro_f1, 4),
        "examples": report["macro avg"]["support"],
        "seconds": round(time.monotonic() - started, 1),
        "floor": args.floor,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"NLU {args.folds}-fold cross-validation: intent accuracy {accuracy:.3f}, "
        f"macro-F1 {macro_f1:.3f} on {summary['examples']} examples (report: {out})"
    )
    if accuracy < args.floor:
        print(
            f"FAIL: intent accuracy {accuracy:.3f} is below the floor {args.floor}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
