"""Train the models only when their inputs changed: Rasa's (NLU, stories, rules, domain,
config) and the learned screening net (`screening_training.py`)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from bot.serve.screening_training import train_screening
from bot.settings import Settings

MODEL_NAME = "aftercare"


def training_inputs(project_dir: Path) -> list[Path]:
    """Every file the trained model depends on."""
    project_dir = Path(project_dir)
    screening = project_dir / "data" / "screening"
    files = sorted(p for p in (project_dir / "data").rglob("*.yml") if screening not in p.parents)
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
    project_dir: Path,
    models_dir: Path,
    force: bool = False,
    env: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> bool:
    """Train what is out of date (or everything, forced): Rasa's model and the screening net.
    Returns True if anything was trained. `env`: Rasa's environment (default: this process's);
    `settings`: where the clinic and the encoder are (default: the project's own)."""
    settings = settings or Settings.from_env({"AFTERCARE_HOME": str(project_dir)})
    trained = train_rasa(project_dir, models_dir, force, env)
    net = train_screening(
        project_dir, models_dir, settings.clinic_dir, settings.minilm_dir, force=force
    )
    return trained or net


def train_rasa(
    project_dir: Path, models_dir: Path, force: bool = False, env: dict[str, str] | None = None
) -> bool:
    """Train Rasa's model if needed (or forced). Returns True if it was trained."""
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
