"""Train the learned screening net (`bot.language.screening.learned`) when its inputs changed.

Inputs: the labelled screening messages (`data/screening/*.yml`), the red-flag sets
(`tests/data/red_flags*.yml`) and every held-out set merged after its first run
(`tests/data/heldout/*.yml`; only their levels are labels here), the
clinic's symptom topics and signs, and the sentence encoder. The net is written to
`models/screening/` with a fingerprint of what it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bot.kb.loader import load_clinic
from bot.language.encoder import load_encoder
from bot.language.screening.learned import LearnedNet, net_dir
from bot.language.screening.learning import examples, net_targets, read_cases, train


def screening_inputs(project_dir: Path) -> list[Path]:
    """Every file of labelled messages the net learns from."""
    project_dir = Path(project_dir)
    tests = project_dir / "tests" / "data"
    return (
        sorted((project_dir / "data" / "screening").glob("*.yml"))
        + sorted(tests.glob("red_flags*.yml"))
        + sorted((tests / "heldout").glob("*.yml"))
    )


def screening_fingerprint(project_dir: Path, targets: tuple[list[str], list[str]]) -> str:
    """A hash of the inputs, what the net learns (the KB's symptom topics and the signs)
    and the training code: editing the clinic's words does not retrain it."""
    digest = hashlib.sha256(json.dumps(targets).encode())
    code = Path(__file__).resolve().parents[1] / "language" / "screening"
    for path in screening_inputs(project_dir) + [code / "learning.py", code / "learned.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def train_screening(
    project_dir: Path, models_dir: Path, clinic_dir: Path, minilm_dir: Path, force: bool = False
) -> bool:
    """Train the net if its inputs changed (or forced). Returns True if it was trained."""
    target = net_dir(models_dir)
    stamp = target / "fingerprint"
    clinic = load_clinic(clinic_dir)
    symptoms, signs = net_targets(clinic)
    wanted = screening_fingerprint(project_dir, (symptoms, signs))
    if (
        not force
        and stamp.is_file()
        and stamp.read_text().strip() == wanted
        and LearnedNet.load(target)
    ):
        print(f"Screening net is up to date: {target}")
        return False
    print("Training the screening net (its labelled messages changed)...", flush=True)
    data = examples(read_cases(screening_inputs(project_dir)), symptoms, signs)
    net = train(data, load_encoder(minilm_dir), wanted[:12])
    net.save(target)
    stamp.write_text(wanted + "\n")
    print(f"Screening net trained on {len(data.texts)} messages: {target}")
    return True
