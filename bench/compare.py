"""Candidate NLU pipelines trained and tested on one held-out split (scripts/compare_pipelines.py).

Data classes of the results, the split, `rasa train nlu` / `rasa test nlu` of one candidate
and the reading of its reports. Inference timing is in `bench.compare_inference`, the analysis
and the reports in `bench.compare_report`.
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.common import ROOT, load_average, rasa_env

PIPELINES_DIR = ROOT / "bench" / "pipelines"
RESULTS_DIR = ROOT / "results"
NLU_DATA = ROOT / "data" / "nlu"
RASA = Path(sys.executable).parent / "rasa"

SPLIT_SEED = 42
TRAINING_FRACTION = 0.8
#: Placeholder in a candidate config, replaced by the path of the blank spaCy pipeline.
SPACY_PLACEHOLDER = "${AFTERCARE_SPACY_LEMMA_MODEL}"
CONFIG = ROOT / "config.yml"
#: Table order for the candidates of the brief; any other config follows alphabetically.
PREFERRED_ORDER = ("minilm", "lr_counts", "rasa_default", "diet_light", "lr_spacy_lemmas")

log = logging.getLogger("compare_pipelines")


# --------------------------------------------------------------------------- data classes


@dataclass
class Prediction:
    """One test example as the model saw it (top intent with the fallback undone)."""

    text: str
    intent: str
    predicted: str
    confidence: float

    @property
    def correct(self) -> bool:
        """Whether the top intent is the annotated one."""
        return self.predicted == self.intent


@dataclass
class ConfidenceAnalysis:
    """Confidence of correct vs wrong top-intent predictions on the test split."""

    n_correct: int
    n_wrong: int
    correct_percentiles: dict[str, float]
    wrong_percentiles: dict[str, float]
    #: Highest threshold (0.01 grid) keeping >= KEEP_CORRECT of correct predictions.
    suggested_threshold: float
    kept_correct_at_suggested: float
    caught_wrong_at_suggested: float
    #: The candidate's own FallbackClassifier threshold and its (kept, caught) shares.
    configured_threshold: float | None
    kept_correct_at_configured: float | None
    caught_wrong_at_configured: float | None
    #: threshold -> [share of correct kept, share of wrong caught].
    sweep: dict[str, list[float]]


@dataclass
class PairedComparison:
    """Per-example comparison of a candidate with the baseline on the same test texts."""

    baseline: str
    delta_accuracy: float
    only_baseline_right: int
    only_candidate_right: int
    mcnemar_p: float


@dataclass
class CandidateResult:
    """Everything measured for one candidate pipeline."""

    name: str
    config: str
    ok: bool = False
    error: str | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    weighted_f1: float | None = None
    entity_micro_f1: dict[str, float] = field(default_factory=dict)
    train_seconds: float | None = None
    train_cpu_seconds: float | None = None
    test_seconds: float | None = None
    model_mb: float | None = None
    load_average_before_train: float | None = None
    load_seconds: float | None = None
    ms_per_message_mean: float | None = None
    ms_per_message_p50: float | None = None
    ms_per_message_p95: float | None = None
    cpu_ms_per_message: float | None = None
    parse_accuracy: float | None = None
    vs_baseline: PairedComparison | None = None
    confidence: ConfidenceAnalysis | None = None
    predictions: list[Prediction] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def uncached_env(workdir: Path) -> dict[str, str]:
    """Environment for Rasa subprocesses: no telemetry, training cache disabled."""
    cache = {"RASA_MAX_CACHE_SIZE": "0", "RASA_CACHE_DIRECTORY": str(workdir / "rasa-cache")}
    return rasa_env(cache)


def children_cpu_seconds() -> float:
    """User + system CPU time of all waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], env: dict[str, str], log_file: Path) -> tuple[float, float]:
    """Run ``cmd`` from the repository root with its output in ``log_file``.

    Returns:
        (wall seconds, CPU seconds of the child process).

    Raises:
        RuntimeError: if the command fails (with the tail of its output).
    """
    log.info("$ %s", " ".join(cmd))
    cpu_before = children_cpu_seconds()
    start = time.perf_counter()
    with log_file.open("w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    cpu = children_cpu_seconds() - cpu_before
    if proc.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd[:3])}\n{tail}")
    return wall, cpu


def split_data(workdir: Path, env: dict[str, str], seed: int, reuse: bool) -> tuple[Path, Path]:
    """Split data/nlu once (stratified per intent); return (train file, test file)."""
    out = workdir / "split"
    train, test = out / "training_data.yml", out / "test_data.yml"
    if reuse and train.exists() and test.exists():
        log.info("reusing split in %s", out)
        return train, test
    cmd = [str(RASA), "data", "split", "nlu", "--nlu", str(NLU_DATA)]
    cmd += ["--random-seed", str(seed), "--training-fraction", str(TRAINING_FRACTION)]
    run([*cmd, "--out", str(out)], env, workdir / "split.log")
    return train, test


def build_spacy_lemma_model(target: Path) -> Path:
    """Save a blank English spaCy pipeline with a lookup lemmatizer to ``target``.

    The lemma tables come from spacy-lookups-data, so this works offline.
    """
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.to_disk(target)
    return target


def render_config(source: Path, workdir: Path) -> Path:
    """Copy a candidate config into ``workdir``, building/substituting the spaCy model if used."""
    text = source.read_text()
    if SPACY_PLACEHOLDER in text:
        model_dir = workdir / "spacy_en_lookup_lemmas"
        if not model_dir.exists():
            build_spacy_lemma_model(model_dir)
        text = text.replace(SPACY_PLACEHOLDER, str(model_dir))
    rendered = workdir / "configs" / source.name
    rendered.parent.mkdir(parents=True, exist_ok=True)
    rendered.write_text(text)
    return rendered


def fallback_threshold(config: Path) -> float | None:
    """The FallbackClassifier threshold of a config (Rasa's default 0.3 if not given)."""
    for component in pipeline_of(config):
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return None


def pipeline_of(config: Path) -> list[dict[str, Any]]:
    """The ``pipeline:`` list of a Rasa config file."""
    return yaml.safe_load(config.read_text()).get("pipeline") or []


def default_baseline(names: list[str]) -> str:
    """The candidate whose pipeline is config.yml's (the shipped one), else the first."""
    shipped = pipeline_of(CONFIG)
    for name in names:
        if pipeline_of(PIPELINES_DIR / f"{name}.yml") == shipped:
            return name
    return names[0]


def available_candidates() -> list[str]:
    """Candidate names: the stems of bench/pipelines/*.yml (the brief's order first)."""
    names = {p.stem for p in PIPELINES_DIR.glob("*.yml")}
    first = [n for n in PREFERRED_ORDER if n in names]
    return first + sorted(names - set(first))


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) for every intent example of a Rasa NLU file."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


# --------------------------------------------------------------------------- train and test


def read_reports(report_dir: Path, result: CandidateResult) -> None:
    """Fill intent and entity metrics from the reports ``rasa test nlu`` wrote."""
    intent = json.loads((report_dir / "intent_report.json").read_text())
    result.accuracy = round(float(intent["accuracy"]), 4)
    result.macro_f1 = round(float(intent["macro avg"]["f1-score"]), 4)
    result.weighted_f1 = round(float(intent["weighted avg"]["f1-score"]), 4)
    for report in sorted(report_dir.glob("*_report.json")):
        extractor = report.name.removesuffix("_report.json")
        if extractor in {"intent", "response_selection"}:
            continue
        micro = json.loads(report.read_text()).get("micro avg") or {}
        if "f1-score" in micro:
            result.entity_micro_f1[extractor] = round(float(micro["f1-score"]), 4)


def train_and_test(
    name: str,
    workdir: Path,
    train_file: Path,
    test_file: Path,
    env: dict[str, str],
    reuse: bool,
) -> tuple[CandidateResult, Path | None]:
    """Train and test one candidate; return its result and model path (None on failure).

    With ``reuse``, a model and measurements left in ``workdir`` by an earlier run are used
    instead of training again. Failures are recorded in the result, not raised.
    """
    source = PIPELINES_DIR / f"{name}.yml"
    result = CandidateResult(name=name, config=str(source.relative_to(ROOT)))
    model = workdir / "models" / f"{name}.tar.gz"
    report_dir = workdir / name
    saved = report_dir / "train_test.json"
    try:
        if reuse and model.exists() and saved.exists():
            log.info("reusing model and train/test measurements of %s", name)
            for key, value in json.loads(saved.read_text()).items():
                setattr(result, key, value)
        else:
            config = render_config(source, workdir)
            result.load_average_before_train = load_average()
            cmd = [str(RASA), "train", "nlu", "--config", str(config), "--nlu", str(train_file)]
            cmd += ["--out", str(model.parent), "--fixed-model-name", name]
            wall, cpu = run(cmd, env, workdir / "logs" / f"{name}.train.log")
            result.train_seconds, result.train_cpu_seconds = round(wall, 1), round(cpu, 1)
            result.model_mb = round(model.stat().st_size / 1e6, 2)
            cmd = [str(RASA), "test", "nlu", "--model", str(model), "--nlu", str(test_file)]
            wall, _ = run(
                [*cmd, "--out", str(report_dir)], env, workdir / "logs" / f"{name}.test.log"
            )
            result.test_seconds = round(wall, 1)
            keys = ("train_seconds", "train_cpu_seconds", "test_seconds", "model_mb")
            keys += ("load_average_before_train",)
            saved.write_text(json.dumps({k: getattr(result, k) for k in keys}, indent=2))
        read_reports(report_dir, result)
        result.ok = True
        return result, model
    except Exception as exc:  # noqa: BLE001 - one failing candidate must not stop the others
        log.error("%s failed: %s", name, exc)
        result.error = str(exc)
        return result, None
