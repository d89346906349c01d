"""The second screening net: classifiers learned from labelled client messages.

Beside the lexicon, which finds the words the clinic listed, this net reads what a message
means: the all-MiniLM-L6-v2 sentence vector (wording it never saw) joined with character
n-grams (typos), and one logistic regression per label: `emergency`, each symptom topic the
client reports as their own and present now (and `other` for a symptom the KB has no topic
for), and each sign. It was trained on messages where the symptom is also denied,
hypothetical, someone else's, over or hyperbole, so it reads context too.

A message is read whole and clause by clause (`bot.language.clauses`); each label's
probability is the highest of them, so one worrying clause in a long story counts. Each label
has its threshold, chosen on held-out folds when the net was trained (`learning.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack

from bot.language.clauses import clauses
from bot.language.encoder import MiniLM

EMERGENCY = "emergency"
PRESENT = "context:present"  # the message reports the client's own symptom, present now
OTHER = "other"  # a present symptom the KB has no topic for
SYMPTOM_PREFIX, SIGN_PREFIX = "symptom:", "sign:"
WEIGHTS_FILE, META_FILE = "screening_net.npz", "screening_net.json"
NET_FOLDER = "screening"  # under the models folder


def net_dir(models_dir: Path) -> Path:
    """Where the trained net lives."""
    return Path(models_dir) / NET_FOLDER


def char_vectorizer(vocabulary: dict[str, int] | None = None):
    """Character n-grams within words, as the intent classifier uses them."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # sklearn: only with the net

    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, vocabulary=vocabulary
    )


@dataclass(frozen=True)
class LearnedScreening:
    """What the net read in one message: each label's probability and whether it is above
    the label's threshold."""

    probabilities: dict[str, float]
    thresholds: dict[str, float]

    def has(self, label: str) -> bool:
        """Whether the net finds `label` in the message."""
        return self.probabilities.get(label, 0.0) >= self.thresholds.get(label, 1.0)

    def found(self, prefix: str) -> list[str]:
        """The labels with this prefix the net finds, without the prefix, most likely first."""
        names = [k for k in self.probabilities if k.startswith(prefix) and self.has(k)]
        return [k[len(prefix) :] for k in sorted(names, key=lambda k: -self.probabilities[k])]

    def as_dict(self) -> dict:
        """For the NLU parse data: probabilities and thresholds, rounded."""
        return {
            "p": {k: round(v, 4) for k, v in self.probabilities.items()},
            "t": {k: round(v, 4) for k, v in self.thresholds.items()},
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> LearnedScreening | None:
        """What `as_dict` wrote (None when there is nothing)."""
        if not data or "p" not in data:
            return None
        return cls(dict(data["p"]), dict(data.get("t") or {}))

    @property
    def present(self) -> bool:
        """The net reads the client's own symptom, present now (not denied, hypothetical,
        over, someone else's or hyperbole). Without this head: assumed."""
        return PRESENT not in self.probabilities or self.has(PRESENT)

    @property
    def emergency(self) -> bool:
        return self.has(EMERGENCY)

    @property
    def symptoms(self) -> list[str]:
        """Symptom topics (and `other`) the client reports as present now."""
        return self.found(SYMPTOM_PREFIX)

    @property
    def signs(self) -> list[str]:
        return self.found(SIGN_PREFIX)


class LearnedNet:
    """The trained weights: one logistic regression per label over [sentence vector, n-grams]."""

    def __init__(
        self,
        labels: list[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        vectorizer,
        thresholds: dict[str, float],
        version: str,
    ):
        self.labels, self.coef, self.intercept = labels, coef, intercept
        self.vectorizer, self.thresholds, self.version = vectorizer, thresholds, version

    def features(self, encoder: MiniLM, texts: list[str]) -> csr_matrix:
        """The net's input for some texts."""
        dense = csr_matrix(encoder.embed(texts))
        return hstack([dense, self.vectorizer.transform(texts)]).tocsr()

    def probabilities(self, encoder: MiniLM, texts: list[str]) -> np.ndarray:
        """P(label) for each text (rows) and label (columns)."""
        scores = self.features(encoder, texts) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-scores))

    def screen(self, encoder: MiniLM, text: str) -> LearnedScreening:
        """Read a message whole and clause by clause; the highest probability per label."""
        parts = clauses(text)
        texts = [text] + (parts if len(parts) > 1 else [])
        return self.screen_dense(texts, encoder.embed(texts))

    def screen_dense(self, texts: list[str], dense: np.ndarray) -> LearnedScreening:
        """The same, from the sentence vectors of the message and its clauses."""
        features = hstack([csr_matrix(dense), self.vectorizer.transform(texts)]).tocsr()
        scores = features @ self.coef.T + self.intercept
        best = (1.0 / (1.0 + np.exp(-scores))).max(axis=0)
        values = {label: float(p) for label, p in zip(self.labels, best, strict=True)}
        return LearnedScreening(values, self.thresholds)

    def save(self, directory: Path) -> None:
        """Write the weights (numpy) and the rest (JSON); no pickle."""
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / WEIGHTS_FILE,
            coef=self.coef,
            intercept=self.intercept,
            idf=self.vectorizer.idf_,
        )
        meta = {
            "labels": self.labels,
            "thresholds": self.thresholds,
            "version": self.version,
            "vocabulary": {k: int(v) for k, v in self.vectorizer.vocabulary_.items()},
        }
        (directory / META_FILE).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LearnedNet | None:
        """The net saved in `directory`, or None when there is none."""
        if not (directory / WEIGHTS_FILE).is_file() or not (directory / META_FILE).is_file():
            return None
        arrays = np.load(directory / WEIGHTS_FILE)
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        vectorizer = char_vectorizer(meta["vocabulary"])
        vectorizer.idf_ = arrays["idf"]
        return cls(
            meta["labels"],
            arrays["coef"],
            arrays["intercept"],
            vectorizer,
            meta["thresholds"],
            meta["version"],
        )
