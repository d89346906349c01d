"""Training the second screening net from labelled client messages.

Two kinds of labelled message teach it:
- screening messages (`data/screening/*.yml`): what the client reports as their own and
  present now (`symptoms`), the `signs`, and whether it is an `emergency`;
- red-flag and held-out cases (`tests/data/`): the level only, which says whether the message
  is an emergency (the other labels are unknown there and left out of their fits).

The net reads a message whole and clause by clause and keeps each label's highest
probability; each label's threshold is the one with the best F-beta on held-out folds read the
same way (beta > 1: a missed red flag costs more than a false one); then each label is fitted
on all the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.sparse import csr_matrix, hstack

from bot.language.clauses import clauses
from bot.language.encoder import MiniLM
from bot.language.screening.learned import (
    EMERGENCY,
    OTHER,
    PRESENT,
    SIGN_PREFIX,
    SYMPTOM_PREFIX,
    LearnedNet,
    char_vectorizer,
)

UNKNOWN = -1
BETA = {EMERGENCY: 2.0, PRESENT: 1.0, SIGN_PREFIX: 1.5, SYMPTOM_PREFIX: 1.5}
PRESENT_CONTEXTS = ("own_now", "expected")
FOLDS = 5
C = 4.0
MAX_CHAR_FEATURES = 20_000


@dataclass(frozen=True)
class Examples:
    """Texts and their labels: 1, 0, or UNKNOWN (left out of that label's fit)."""

    texts: list[str]
    labels: list[str]
    y: np.ndarray


@dataclass(frozen=True)
class Parts:
    """Every text's parts (the whole, then its clauses) as feature rows, and their owner."""

    x: csr_matrix
    owner: np.ndarray  # row -> index of its text
    whole: np.ndarray  # index of each text's whole-message row


def read_cases(paths: list[Path]) -> list[dict]:
    """Every case of some YAML files with a `cases:` list."""
    cases = []
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        cases.extend(data["cases"] if isinstance(data, dict) else data)
    return cases


def net_targets(clinic) -> tuple[list[str], list[str]]:
    """The symptom topics and signs the net learns. A sign whose every red flag is an
    emergency ("airway") is left to the net's emergency head, with its own threshold, so a
    loosely read sign cannot call an emergency through the KB's red flags."""
    topics = [t for t in clinic.kb.topics.values() if t.type == "symptom"]
    levels: dict[str, set[str]] = {}
    for topic in topics:
        for flag in topic.red_flags:
            levels.setdefault(flag.sign, set()).add(flag.level)
    signs = [s for s in clinic.lexicon.signs if levels.get(s) != {"emergency"}]
    return [t.key for t in topics], signs


def examples(cases: list[dict], symptom_topics: list[str], signs: list[str]) -> Examples:
    """The label matrix: screening cases know everything; red-flag cases only `emergency`."""
    labels = [EMERGENCY, PRESENT]
    labels += [SYMPTOM_PREFIX + t for t in sorted(symptom_topics) + [OTHER]]
    labels += [SIGN_PREFIX + s for s in sorted(signs)]
    y = np.full((len(cases), len(labels)), UNKNOWN, dtype=np.int8)
    for row, case in enumerate(cases):
        y[row, 0] = int(bool(case.get("emergency")) or case.get("level") == "emergency")
        if case.get("context"):
            y[row, 1] = int(case["context"] in PRESENT_CONTEXTS)
        elif case.get("level") in ("question", "urgent", "emergency"):
            y[row, 1] = 1  # a red flag of the client's own (calm cases: unknown)
        if "symptoms" not in case:
            continue
        present = set(case.get("symptoms") or [])
        shown = set(case.get("signs") or [])
        for column, label in enumerate(labels[2:], start=2):
            name = label.split(":", 1)[1]
            y[row, column] = int(name in (present if label.startswith(SYMPTOM_PREFIX) else shown))
    # A label no labelled message shows (a sign the clinic just added) cannot be learned: left
    # to the lexicon.
    keep = [c for c in range(len(labels)) if (y[:, c] == 1).any() and (y[:, c] == 0).any()]
    return Examples([str(c["text"]) for c in cases], [labels[c] for c in keep], y[:, keep])


def parts(texts: list[str], encoder: MiniLM, vectorizer) -> Parts:
    """The feature rows of each text and of its clauses (when it has more than one)."""
    rows, owner, whole = [], [], []
    for index, text in enumerate(texts):
        pieces = clauses(text)
        whole.append(len(rows))
        for piece in [text] + (pieces if len(pieces) > 1 else []):
            rows.append(piece)
            owner.append(index)
    x = hstack([csr_matrix(encoder.embed(rows)), vectorizer.transform(rows)]).tocsr()
    return Parts(x, np.array(owner), np.array(whole))


def _beta(label: str) -> float:
    return next(b for prefix, b in BETA.items() if label.startswith(prefix))


def best_threshold(truth: np.ndarray, scores: np.ndarray, beta: float) -> float:
    """The score threshold with the best F-beta (ties: the lower threshold, safer)."""
    order = np.argsort(-scores)
    hits = np.cumsum(truth[order])
    precision = hits / np.arange(1, len(order) + 1)
    recall = hits / max(truth.sum(), 1)
    b2 = beta * beta
    f = (1 + b2) * precision * recall / np.maximum(b2 * precision + recall, 1e-12)
    return float(scores[order][int(np.argmax(f))])


def fit_label(x, y: np.ndarray):
    """One label's logistic regression."""
    from sklearn.linear_model import LogisticRegression  # sklearn: training only

    return LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(x, y)


def out_of_fold(data: Examples, p: Parts, folds: int = FOLDS) -> np.ndarray:
    """Each text's probability per label from models that did not see it, read whole and
    clause by clause (the highest)."""
    from sklearn.model_selection import KFold  # sklearn: training only

    probabilities = np.zeros(data.y.shape)
    split = KFold(n_splits=folds, shuffle=True, random_state=42)
    for train, test in split.split(data.texts):
        test_rows = np.isin(p.owner, test)
        for column in range(len(data.labels)):
            known = train[data.y[train, column] != UNKNOWN]
            model = fit_label(p.x[p.whole[known]], data.y[known, column])
            scores = 1.0 / (1.0 + np.exp(-model.decision_function(p.x[test_rows])))
            np.maximum.at(probabilities[:, column], p.owner[test_rows], scores)
    return probabilities


def thresholds_for(data: Examples, probabilities: np.ndarray) -> dict[str, float]:
    """Each label's threshold: the best F-beta on the held-out folds."""
    chosen = {}
    for column, label in enumerate(data.labels):
        known = data.y[:, column] != UNKNOWN
        truth = data.y[known, column].astype(int)
        chosen[label] = best_threshold(truth, probabilities[known, column], _beta(label))
    return chosen


def train(data: Examples, encoder: MiniLM, version: str) -> LearnedNet:
    """Fit every label; thresholds from held-out folds."""
    vectorizer = char_vectorizer()
    vectorizer.set_params(max_features=MAX_CHAR_FEATURES)
    vectorizer.fit(data.texts)
    p = parts(data.texts, encoder, vectorizer)
    thresholds = thresholds_for(data, out_of_fold(data, p))
    coef, intercept = [], []
    for column in range(len(data.labels)):
        known = np.flatnonzero(data.y[:, column] != UNKNOWN)
        model = fit_label(p.x[p.whole[known]], data.y[known, column])
        coef.append(model.coef_[0])
        intercept.append(model.intercept_[0])
    return LearnedNet(
        data.labels, np.array(coef), np.array(intercept), vectorizer, thresholds, version
    )
