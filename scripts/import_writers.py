"""Import data written by independent writers into the project's training data.

Each writer (a persona, see docs/generalisation.md) wrote, from the protocol alone, training
messages per intent (`nlu.checked.yml`, after a second writer checked every label) and labelled
screening messages (`screening.checked.yml`). This writes them as
`data/nlu/writers/<persona>.yml` (Rasa NLU format) and `data/screening/<persona>.yml`.

A message that is already in the training data (same words, any case or spacing) is skipped,
and so is one given two different intents: the first intent seen keeps it.

    python scripts/import_writers.py /path/to/writers/train
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NLU_OUT = ROOT / "data" / "nlu" / "writers"
SCREENING_OUT = ROOT / "data" / "screening"


def normal(text: str) -> str:
    """How duplicates are compared: lower case, single spaces, no trailing punctuation."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip(".!?")


def existing_examples() -> dict[str, str]:
    """normalised text -> intent, for the NLU data outside data/nlu/writers/."""
    known: dict[str, str] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" not in item:
                continue
            for line in item.get("examples", "").splitlines():
                if line.startswith("- "):
                    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line[2:])
                    known.setdefault(normal(text), item["intent"])
    return known


def nlu_yaml(examples: dict[str, list[str]], persona: str) -> str:
    """Rasa's NLU training format, one block per intent."""
    lines = [
        f"# Written by an independent writer (persona {persona}) from the protocol alone, labels",
        "# checked by a second writer; imported by scripts/import_writers.py.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent, texts in examples.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {' '.join(t.split())}" for t in texts]
    return "\n".join(lines) + "\n"


def import_persona(folder: Path, known: dict[str, str], intents: set[str]) -> tuple[int, int]:
    """Write one persona's files; returns (NLU examples kept, screening cases)."""
    persona = folder.name
    raw = yaml.safe_load((folder / "nlu.checked.yml").read_text(encoding="utf-8"))
    kept: dict[str, list[str]] = {}
    for intent, texts in raw.items():
        if intent not in intents:
            raise SystemExit(f"{folder}: unknown intent {intent!r}")
        for text in texts:
            key = normal(str(text))
            if not key or key in known:
                continue
            known[key] = intent
            kept.setdefault(intent, []).append(str(text))
    NLU_OUT.mkdir(parents=True, exist_ok=True)
    (NLU_OUT / f"{persona}.yml").write_text(nlu_yaml(kept, persona), encoding="utf-8")
    cases = yaml.safe_load((folder / "screening.checked.yml").read_text(encoding="utf-8"))["cases"]
    SCREENING_OUT.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Labelled screening messages by an independent writer (persona {persona}), from the\n"
        "# protocol alone; labels checked by a second writer. Imported by\n"
        "# scripts/import_writers.py. Format C of docs/generalisation.md.\n"
    )
    body = yaml.safe_dump({"cases": cases}, sort_keys=False, allow_unicode=True, width=100)
    (SCREENING_OUT / f"{persona}.yml").write_text(header + body, encoding="utf-8")
    return sum(len(v) for v in kept.values()), len(cases)


def main(argv: list[str]) -> int:
    """Import every persona folder under the given folder."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    known = existing_examples()
    total_nlu = total_cases = 0
    for folder in sorted(p for p in Path(argv[0]).iterdir() if (p / "nlu.checked.yml").is_file()):
        nlu, cases = import_persona(folder, known, intents)
        total_nlu, total_cases = total_nlu + nlu, total_cases + cases
        print(f"{folder.name}: {nlu} NLU examples, {cases} screening cases")
    print(f"total: {total_nlu} NLU examples, {total_cases} screening cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
