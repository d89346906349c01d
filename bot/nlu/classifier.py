"""Rasa intent classifier on pretrained sentence meaning plus character n-grams.

Features: the all-MiniLM-L6-v2 sentence vector (what the message means, robust to wording
it never saw) joined with TF-IDF of character n-grams (robust to typos: "swolen", "makup").
A multinomial logistic regression on top gives calibrated-enough confidences for the
FallbackClassifier. Chosen by measurement: see README "NLU pipeline".

The trained parts (regression weights, n-gram vocabulary) are stored in the Rasa model as
JSON and numpy arrays; the encoder weights are read from `.venv/share/minilm/`.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack

from bot.language.encoder import MiniLM, load_encoder
from bot.settings import Settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _minilm_dir() -> Path:
    return Settings.from_env().minilm_dir


def encoder() -> MiniLM:
    """The sentence encoder, from where the settings say its files are."""
    return load_encoder(_minilm_dir())


def _char_vectorizer(vocabulary: dict[str, int] | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        lowercase=True,
        vocabulary=vocabulary,
    )


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentenceEmbeddingClassifier(IntentClassifier, GraphComponent):
    """Intent classifier: MiniLM sentence vectors + char n-gram TF-IDF -> logistic regression."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """C: inverse regularisation; char_weight: weight of the n-gram block."""
        return {"C": 20.0, "char_weight": 1.0, "max_iter": 3000, "ranking_length": 10}

    @staticmethod
    def required_packages() -> list[str]:
        """Python packages this component needs."""
        return ["sklearn", "safetensors"]

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.classes: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.vectorizer = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingClassifier:
        """A new, untrained classifier."""
        return cls(config, model_storage, resource)

    def _features(self, texts: list[str]) -> csr_matrix:
        dense = csr_matrix(encoder().embed(texts))
        chars = self.vectorizer.transform(texts) * float(self.config["char_weight"])
        return hstack([dense, chars]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        """Fit on the intent examples and store the result in the model."""
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(TEXT)]
        if not examples:
            return self._resource
        texts = [e.get(TEXT) for e in examples]
        labels = [e.get(INTENT) for e in examples]
        self.vectorizer = _char_vectorizer().fit(texts)
        model = LogisticRegression(
            C=float(self.config["C"]), max_iter=int(self.config["max_iter"]), random_state=42
        )
        model.fit(self._features(texts), labels)
        self.classes, self.coef, self.intercept = model.classes_, model.coef_, model.intercept_
        self.persist()
        return self._resource

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        scores = self._features(texts) @ self.coef.T + self.intercept
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def process(self, messages: list[Message]) -> list[Message]:
        """Set intent and intent ranking on each message that has text."""
        if self.classes is None:
            return messages
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return messages
        probabilities = self._probabilities([m.get(TEXT) for m in todo])
        for message, row in zip(todo, probabilities, strict=True):
            order = np.argsort(-row)[: int(self.config["ranking_length"])]
            ranking = [{"name": str(self.classes[i]), "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add to training data."""
        return training_data

    def persist(self) -> None:
        """Write weights and n-gram vocabulary into the model storage (no pickle)."""
        with self._storage.write_to(self._resource) as directory:
            np.savez(
                directory / "weights.npz",
                coef=self.coef,
                intercept=self.intercept,
                idf=self.vectorizer.idf_,
            )
            vocabulary = {k: int(v) for k, v in self.vectorizer.vocabulary_.items()}
            (directory / "meta.json").write_text(
                json.dumps({"classes": [str(c) for c in self.classes], "vocabulary": vocabulary})
            )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceEmbeddingClassifier:
        """Load a trained classifier from the model."""
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(directory / "weights.npz")
                meta = json.loads((directory / "meta.json").read_text())
        except (ValueError, FileNotFoundError):
            log.debug("No trained %s in the model", cls.__name__)
            return component
        component.classes = np.array(meta["classes"])
        component.coef, component.intercept = arrays["coef"], arrays["intercept"]
        component.vectorizer = _char_vectorizer(meta["vocabulary"])
        component.vectorizer.idf_ = arrays["idf"]
        encoder()  # fail at start-up, not on the first message, if the encoder is missing
        return component
