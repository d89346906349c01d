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

from bot.language.clauses import clauses
from bot.language.encoder import MiniLM, load_encoder
from bot.language.screening.learned import LearnedNet, net_dir
from bot.settings import Settings

log = logging.getLogger(__name__)
CLAUSES = "clauses"  # in the parse data: each clause's best intent
SCREENING = "screening"  # in the parse data: what the learned screening net read


@lru_cache(maxsize=1)
def _settings() -> Settings:
    return Settings.from_env()


def _minilm_dir() -> Path:
    return _settings().minilm_dir


@lru_cache(maxsize=1)
def screening_net() -> LearnedNet | None:
    """The learned screening net of the models folder, if one was trained (loaded once)."""
    return LearnedNet.load(net_dir(_settings().models_dir))


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
        self._weights_t: np.ndarray | None = None  # coef.T in row order (`_weights`)
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

    def _features(self, texts: list[str], dense: np.ndarray | None = None) -> csr_matrix:
        dense = encoder().embed(texts) if dense is None else dense
        chars = self.vectorizer.transform(texts) * float(self.config["char_weight"])
        return hstack([csr_matrix(dense), chars]).tocsr()

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
        self._weights_t = None
        self.persist()
        return self._resource

    def _probabilities(self, texts: list[str], dense: np.ndarray | None = None) -> np.ndarray:
        scores = self._features(texts, dense) @ self._weights() + self.intercept
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def _weights(self) -> np.ndarray:
        """The weights as (features x classes) in row order, made once: scipy's sparse product
        copies a column-ordered matrix (`coef.T`, ~20 MB) on every message otherwise."""
        if self._weights_t is None:
            self._weights_t = np.ascontiguousarray(self.coef.T)
        return self._weights_t

    def process(self, messages: list[Message]) -> list[Message]:
        """Set intent and intent ranking on each message that has text; when the message has
        several clauses, each clause's own intent; and what the learned screening net reads in
        it (the same sentence vectors: the action server does not compute them again)."""
        if self.classes is None:
            return messages
        for message in messages:
            if message.get(TEXT):
                self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT)
        parts = clauses(text)
        texts = [text] + (parts if len(parts) > 1 else [])
        dense = encoder().embed(texts)
        rows = self._probabilities(texts, dense)
        order = np.argsort(-rows[0])[: int(self.config["ranking_length"])]
        ranking = [{"name": str(self.classes[i]), "confidence": float(rows[0][i])} for i in order]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)
        message.set(CLAUSES, self._clause_intents(texts[1:], rows[1:]), add_to_output=True)
        net = screening_net()
        if net is not None:
            read = net.screen_dense(texts, dense)
            message.set(SCREENING, read.as_dict(), add_to_output=True)

    def _clause_intents(self, parts: list[str], rows: np.ndarray) -> list[dict[str, Any]]:
        """Each clause's own best intent: what a second question of the message asks about."""
        return [
            {
                "text": part,
                "intent": str(self.classes[int(row.argmax())]),
                "confidence": float(row.max()),
            }
            for part, row in zip(parts, rows, strict=True)
        ]

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
        screening_net()
        return component
