#!/usr/bin/env python
"""Compare candidate NLU pipelines by held-out accuracy and speed.

Every candidate is a complete Rasa config in ``bench/pipelines/<name>.yml``. The NLU data
(``data/nlu``) is split ONCE, stratified per intent, with
``rasa data split nlu --random-seed 42 --training-fraction 0.8``, and every candidate is
trained and tested on that same split:

1. ``rasa train nlu`` on the training part: wall time, plus the CPU time of the Rasa process
   (less sensitive to other load on the machine). Rasa's training cache is disabled so no
   candidate reuses another's featurizer outputs.
2. ``rasa test nlu`` on the test part: intent accuracy, macro-F1 and weighted-F1 from
   ``intent_report.json``; entity micro-F1 from each ``<Extractor>_report.json``.
3. Inference speed: each model is loaded once with ``Agent.load`` (TensorFlow and Rasa are
   imported beforehand, so load times are comparable) and every test text is parsed with
   ``await agent.parse_message(text)`` after a warm-up. The timed passes go round-robin over
   the candidates, so background load on the machine hits all of them alike. The first pass
   also records each prediction and its confidence (the FallbackClassifier's
   ``nlu_fallback`` is undone exactly as ``rasa test nlu`` does).
4. Analysis: paired McNemar test of each candidate against a baseline (by default the
   candidate whose pipeline is config.yml's), and the confidence of correct vs wrong
   predictions with a suggested FallbackClassifier threshold.

Results go to ``results/pipelines.md`` and ``results/pipelines.json``; the table is printed.

The work is done by bench/compare.py, bench/compare_inference.py and bench/compare_report.py;
this file is the command line.

Usage (from the repository root; run it alone on the machine, it measures time)::

    RASA_TELEMETRY_ENABLED=false .venv/bin/python scripts/compare_pipelines.py
    .venv/bin/python scripts/compare_pipelines.py --candidates lr_counts diet_light
    .venv/bin/python scripts/compare_pipelines.py --workdir /tmp/bench --reuse  # re-time only
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file, only scripts/ is on sys.path
    sys.path.insert(0, str(ROOT))

from bench import common, compare, compare_inference, compare_report  # noqa: E402 - needs ROOT

log = compare.log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--candidates",
        nargs="+",
        metavar="NAME",
        help="subset of bench/pipelines/*.yml to run (default: all: "
        f"{', '.join(compare.available_candidates())})",
    )
    parser.add_argument(
        "--passes", type=int, default=3, help="timed passes over the test texts (default 3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="warm-up messages per model (default 20)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep split, models and reports here (default: a temp dir, deleted afterwards)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: reuse the split, models and train/test measurements found "
        "there (re-measures inference only)",
    )
    parser.add_argument(
        "--baseline",
        metavar="NAME",
        help="candidate the others are paired against (default: the one whose pipeline is "
        "config.yml's, else the first)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=compare.SPLIT_SEED,
        help=f"split seed (default {compare.SPLIT_SEED}; another seed checks that a difference "
        "is not an artefact of one split)",
    )
    parser.add_argument(
        "--md",
        type=Path,
        help="Markdown report (default results/pipelines.md, or pipelines_seed<N>.md)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="JSON report (default results/pipelines.json, or pipelines_seed<N>.json)",
    )
    args = parser.parse_args(argv)
    if args.reuse and args.workdir is None:
        parser.error("--reuse needs --workdir")
    stem = "pipelines" if args.seed == compare.SPLIT_SEED else f"pipelines_seed{args.seed}"
    args.md = args.md or compare.RESULTS_DIR / f"{stem}.md"
    args.json = args.json or compare.RESULTS_DIR / f"{stem}.json"
    return args


def configure_logging() -> None:
    """Our progress on stderr; Rasa, TensorFlow and structlog quiet."""
    common.quiet_rasa_here()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # Rasa reconfigures the root logger when it loads a model
    from rasa.utils.log_utils import configure_structlog

    # Otherwise Rasa's structlog prints a debug line per parsed message inside the timed loop.
    configure_structlog(logging.WARNING)
    for noisy in ("rasa", "tensorflow", "absl", "h5py", "matplotlib", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return a process exit code (1 if any candidate failed)."""
    args = parse_args(argv)
    configure_logging()

    names = args.candidates or compare.available_candidates()
    if args.baseline and args.baseline not in names:
        names = [args.baseline, *names]
    unknown = [n for n in names if not (compare.PIPELINES_DIR / f"{n}.yml").exists()]
    if unknown:
        print(f"unknown candidates: {unknown}; available: {compare.available_candidates()}")
        return 2

    keep = args.workdir is not None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="pipelines-"))).resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    try:
        return compare_all(args, names, workdir, keep)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def compare_all(args: argparse.Namespace, names: list[str], workdir: Path, keep: bool) -> int:
    """Split, train and test, time, analyse, write the reports; the exit code."""
    env = compare.uncached_env(workdir)
    log.info("work dir: %s", workdir)
    load_start = common.load_average()
    train_file, test_file = compare.split_data(workdir, env, args.seed, args.reuse)
    examples = compare.load_examples(test_file)
    results, models = train_all(names, workdir, train_file, test_file, env, args.reuse)

    log.info("== model load time (fresh process each): %s", ", ".join(models))
    for name, model in models.items():
        results[name].load_seconds = round(compare_inference.measure_load_seconds(model, env), 2)
    log.info("== inference timing: %s", ", ".join(models))
    asyncio.run(
        compare_inference.measure_inference(models, results, examples, args.passes, args.warmup)
    )

    baseline_name = args.baseline or compare.default_baseline(names)
    analyse_all(results, baseline_name, workdir)
    meta = run_meta(args, baseline_name, train_file, examples, load_start)
    meta["workdir"] = str(workdir) if keep else None
    ordered = [results[n] for n in names]
    table = compare_report.write_results(ordered, meta, args.md, args.json)
    print_summary(table, ordered, args)
    return 0 if all(r.ok for r in ordered) else 1


def train_all(
    names: list[str],
    workdir: Path,
    train_file: Path,
    test_file: Path,
    env: dict[str, str],
    reuse: bool,
) -> tuple[dict[str, compare.CandidateResult], dict[str, Path]]:
    """Train and test every candidate; (results by name, models of those that worked)."""
    results: dict[str, compare.CandidateResult] = {}
    models: dict[str, Path] = {}
    for name in names:
        log.info("== %s: train and test", name)
        results[name], model = compare.train_and_test(
            name, workdir, train_file, test_file, env, reuse
        )
        if model is not None:
            models[name] = model
            r = results[name]
            log.info(
                "%s: accuracy %s, macro-F1 %s, train %s s (CPU %s s)",
                name,
                r.accuracy,
                r.macro_f1,
                r.train_seconds,
                r.train_cpu_seconds,
            )
    return results, models


def analyse_all(
    results: dict[str, compare.CandidateResult], baseline_name: str, workdir: Path
) -> None:
    """Confidence analysis of every candidate with predictions; each paired with the baseline."""
    baseline = results.get(baseline_name)
    for name, r in results.items():
        if not r.predictions:
            continue
        config = workdir / "configs" / f"{name}.yml"
        source = config if config.exists() else compare.PIPELINES_DIR / f"{name}.yml"
        r.confidence = compare_report.analyse_confidence(
            r.predictions, compare.fallback_threshold(source)
        )
        if baseline is not None and baseline.predictions and name != baseline_name:
            r.vs_baseline = compare_report.compare_paired(baseline, r)
        log.info(
            "%s: %.2f ms/message (CPU %.2f)",
            name,
            r.ms_per_message_mean or 0,
            r.cpu_ms_per_message or 0,
        )


def run_meta(
    args: argparse.Namespace,
    baseline_name: str,
    train_file: Path,
    examples: list[tuple[str, str]],
    load_start: float | None,
) -> dict[str, Any]:
    """The settings, split, machine and versions of this run, for the reports."""
    import rasa
    import spacy

    shipped = compare.pipeline_of(compare.CONFIG)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "split_seed": args.seed,
        "baseline": baseline_name,
        "baseline_note": (
            " (the config.yml pipeline)"
            if compare.pipeline_of(compare.PIPELINES_DIR / f"{baseline_name}.yml") == shipped
            else ""
        ),
        "training_fraction": compare.TRAINING_FRACTION,
        "n_train": len(compare.load_examples(train_file)),
        "n_test": len(examples),
        "n_intents": len({intent for _, intent in examples}),
        "passes": args.passes,
        "warmup": args.warmup,
        "cpus": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": common.load_average(),
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "spacy": spacy.__version__,
    }


def print_summary(
    table: str, ordered: list[compare.CandidateResult], args: argparse.Namespace
) -> None:
    """The table, the best candidate's suggested threshold and where the reports are."""
    print(table)
    best = compare_report.best_candidate(ordered)
    if best is not None and best.confidence is not None:
        c = best.confidence
        print(
            f"\nbest by macro-F1: {best.name}; suggested fallback threshold "
            f"{c.suggested_threshold:.2f} (keeps {c.kept_correct_at_suggested:.1%} of "
            f"correct, catches {c.caught_wrong_at_suggested:.1%} of wrong)"
        )
    print(f"\nwritten: {args.md} and {args.json}")


if __name__ == "__main__":
    sys.exit(main())
