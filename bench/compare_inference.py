"""Model load time and inference speed of the candidate NLU pipelines (bench.compare).

Each model is loaded once with ``Agent.load`` and every test text is parsed with
``await agent.parse_message(text)`` after a warm-up; the timed passes go round-robin over the
candidates, so background load on the machine hits all of them alike.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, percentile
from bench.compare import CandidateResult, Prediction, log

#: Run in a fresh interpreter: time ``Agent.load`` once TensorFlow and Rasa are imported.
LOAD_SNIPPET = """
import sys, time
import tensorflow
from rasa.core.agent import Agent
start = time.perf_counter()
Agent.load(sys.argv[1])
print(time.perf_counter() - start)
"""


def measure_load_seconds(model: Path, env: dict[str, str]) -> float:
    """Seconds ``Agent.load`` takes in a fresh process (imports of TF/Rasa not counted)."""
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_SNIPPET, str(model)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(proc.stdout.strip().splitlines()[-1])


def top_prediction(parsed: dict[str, Any], text: str, intent: str) -> Prediction:
    """The top intent of a parse result, with the FallbackClassifier's decision undone."""
    from rasa.nlu.classifiers import fallback_classifier

    if fallback_classifier.is_fallback_classifier_prediction(parsed):
        parsed = fallback_classifier.undo_fallback_prediction(parsed)
    top = parsed["intent"]
    return Prediction(text, intent, top["name"], round(float(top["confidence"]), 6))


async def measure_inference(
    models: dict[str, Path],
    results: dict[str, CandidateResult],
    examples: list[tuple[str, str]],
    passes: int,
    warmup: int,
) -> None:
    """Load every model once, then time ``agent.parse_message`` round-robin.

    Fills wall and CPU ms per message, the predictions (first timed pass) and the accuracy
    they give into ``results``.
    """
    from rasa.core.agent import Agent

    agents = {}
    for name, path in models.items():
        agents[name] = Agent.load(str(path))
        for text, _ in examples[:warmup]:
            await agents[name].parse_message(text)

    wall_ms: dict[str, list[float]] = {name: [] for name in agents}
    cpu_ms: dict[str, float] = dict.fromkeys(agents, 0.0)
    order = list(agents)
    for pass_no in range(passes):
        for name in order[pass_no % len(order) :] + order[: pass_no % len(order)]:
            agent = agents[name]
            cpu_start = time.process_time()
            for text, intent in examples:
                t0 = time.perf_counter()
                parsed = await agent.parse_message(text)
                wall_ms[name].append((time.perf_counter() - t0) * 1000)
                if pass_no == 0:
                    results[name].predictions.append(top_prediction(parsed, text, intent))
            cpu_ms[name] += (time.process_time() - cpu_start) * 1000

    for name, timings in wall_ms.items():
        r = results[name]
        r.ms_per_message_mean = round(sum(timings) / len(timings), 3)
        r.ms_per_message_p50 = round(percentile(timings, 50), 3)
        r.ms_per_message_p95 = round(percentile(timings, 95), 3)
        r.cpu_ms_per_message = round(cpu_ms[name] / len(timings), 3)
        r.parse_accuracy = round(sum(p.correct for p in r.predictions) / len(r.predictions), 4)
        if r.accuracy is not None and abs(r.parse_accuracy - r.accuracy) > 1e-3:
            log.warning(
                "%s: accuracy from parse_message (%.4f) differs from rasa test nlu (%.4f)",
                name,
                r.parse_accuracy,
                r.accuracy,
            )
