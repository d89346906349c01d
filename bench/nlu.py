"""NLU quality for the benchmark: one pipeline trained and scored on the shared held-out split.

Reuses `bench.compare` (split, `rasa train nlu`, `rasa test nlu`, report parsing). The split
is made once (`rasa data split nlu --random-seed 42 --training-fraction 0.8`) and both
pipelines use it: ours is the shipped `config.yml` itself (not a copy), the default is
`bench/pipelines/rasa_default.yml` (the pipeline `rasa init` uses; checked against Rasa's own
default config).

Run as a module for one pipeline, so the orchestrator can start it in the background:
`python -m bench.nlu --name default --config bench/pipelines/rasa_default.yml --split DIR
--workdir DIR --result FILE`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import ROOT
from bench.compare import (
    RASA,
    SPLIT_SEED,
    CandidateResult,
    read_reports,
    run,
    split_data,
    uncached_env,
)

OURS_CONFIG = ROOT / "config.yml"
DEFAULT_CONFIG = ROOT / "bench" / "pipelines" / "rasa_default.yml"


def split(workdir: Path) -> tuple[Path, Path]:
    """Split data/nlu once into workdir/split; (training file, test file)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return split_data(workdir, uncached_env(workdir), SPLIT_SEED, reuse=False)


def count_examples(path: Path) -> int:
    """Intent examples in a Rasa YAML NLU file (lines of the `examples: |` blocks)."""
    data = yaml.safe_load(path.read_text()) or {}
    total = 0
    for item in data.get("nlu") or []:
        if "intent" in item:
            lines = str(item.get("examples") or "").splitlines()
            total += sum(1 for line in lines if line.strip().startswith("- "))
    return total


def rasa_default_pipeline() -> list[dict[str, Any]]:
    """The pipeline Rasa itself fills in for `rasa init`'s empty config (default_config.yml)."""
    spec = importlib.util.find_spec("rasa")
    if spec is None or not spec.submodule_search_locations:
        return []
    package = Path(next(iter(spec.submodule_search_locations)))
    path = package / "engine" / "recipes" / "config_files" / "default_config.yml"
    return yaml.safe_load(path.read_text()).get("pipeline") or []


def evaluate(name: str, config: Path, train: Path, test: Path, workdir: Path) -> dict[str, Any]:
    """Train `config`'s NLU on `train`, test it on `test`; the figures (or an error).

    Each pipeline gets its own empty, disabled Rasa cache. Wall and CPU seconds are those of
    the `rasa train nlu` process.
    """
    out = workdir / name
    (out / "logs").mkdir(parents=True, exist_ok=True)
    env = uncached_env(out)
    model_dir = out / "models"
    result: dict[str, Any] = {
        "name": name,
        "config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
        "ok": False,
        "started": time.strftime("%H:%M:%S"),
    }
    try:
        cmd = [str(RASA), "train", "nlu", "--config", str(config), "--nlu", str(train)]
        cmd += ["--out", str(model_dir), "--fixed-model-name", name]
        wall, cpu = run(cmd, env, out / "logs" / "train.log")
        result["train_seconds"], result["train_cpu_seconds"] = round(wall, 1), round(cpu, 1)
        model = model_dir / f"{name}.tar.gz"
        report_dir = out / "report"
        cmd = [str(RASA), "test", "nlu", "--model", str(model), "--nlu", str(test)]
        wall, _ = run([*cmd, "--out", str(report_dir)], env, out / "logs" / "test.log")
        result["test_seconds"] = round(wall, 1)
        metrics = CandidateResult(name=name, config=result["config"])
        read_reports(report_dir, metrics)
        result.update(
            accuracy=metrics.accuracy,
            macro_f1=metrics.macro_f1,
            weighted_f1=metrics.weighted_f1,
            n_train=count_examples(train),
            n_test=count_examples(test),
        )
        matrix = report_dir / "intent_confusion_matrix.png"
        result["confusion_matrix"] = str(matrix) if matrix.exists() else None
        result["ok"] = True
    except Exception as exc:  # noqa: BLE001 - reported in the benchmark, not raised
        result["error"] = str(exc)[-2000:]
    result["finished"] = time.strftime("%H:%M:%S")
    return result


def main(argv: list[str] | None = None) -> int:
    """Evaluate one pipeline and write its figures as JSON to --result."""
    parser = argparse.ArgumentParser(description="Train and test one NLU pipeline (bench).")
    parser.add_argument("--name", required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True, help="directory from split()")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    train, test = args.split / "training_data.yml", args.split / "test_data.yml"
    result = evaluate(args.name, args.config.resolve(), train, test, args.workdir.resolve())
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
