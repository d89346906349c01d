"""Train the Rasa model only when its inputs changed (NLU, stories, rules, domain, config)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

MODEL_NAME = "aftercare"


def training_inputs(project_dir: Path) -> list[Path]:
    """Every file the trained model depends on."""
    project_dir = Path(project_dir)
    files = sorted((project_dir / "data").rglob("*.yml"))
    return files + [project_dir / "domain.yml", project_dir / "config.yml"]


def fingerprint(project_dir: Path) -> str:
    """A hash of the training inputs' paths and contents (and the Rasa version)."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"rasa=={version('rasa')}".encode())
    for path in training_inputs(project_dir):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def model_path(models_dir: Path) -> Path:
    """Where the trained model lives."""
    return Path(models_dir) / f"{MODEL_NAME}.tar.gz"


def needs_training(project_dir: Path, models_dir: Path) -> bool:
    """True when there is no model or its inputs changed since it was trained."""
    stamp = Path(models_dir) / f"{MODEL_NAME}.fingerprint"
    if not model_path(models_dir).is_file() or not stamp.is_file():
        return True
    return stamp.read_text().strip() != fingerprint(project_dir)


def train(
    project_dir: Path, models_dir: Path, force: bool = False, env: dict[str, str] | None = None
) -> bool:
    """Train if needed (or forced). Returns True if a model was trained. `env`: the child's
    environment (default: this process's)."""
    if not force and not needs_training(project_dir, models_dir):
        print(f"Model is up to date: {model_path(models_dir)}")
        return False
    print("Training the model (training data changed)...", flush=True)
    rasa = Path(sys.executable).with_name("rasa")
    subprocess.run(
        [str(rasa), "train", "--fixed-model-name", MODEL_NAME, "--out", str(models_dir)],
        cwd=project_dir,
        env=env,
        check=True,
    )
    (Path(models_dir) / f"{MODEL_NAME}.fingerprint").write_text(fingerprint(project_dir) + "\n")
    return True
