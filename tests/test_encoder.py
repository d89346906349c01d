"""The sentence encoder: Hugging Face `tokenizers` word pieces, and vectors that match the
published all-MiniLM-L6-v2 (golden vectors computed once with the reference stack)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.language.encoder import EncoderMissing, MiniLM, load_encoder, word_pieces
from bot.settings import PROJECT_DIR, Settings

GOLDEN = json.loads((PROJECT_DIR / "tests" / "data" / "minilm_golden.json").read_text())


@pytest.fixture(scope="module")
def encoder() -> MiniLM:
    return load_encoder(Settings.from_env({}).minilm_dir)


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: c["text"][:30] or "empty")
def test_word_pieces_are_the_reference_tokenizers(encoder, case):
    assert encoder.tokenizer.encode(case["text"]).ids == case["ids"]


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: c["text"][:30] or "empty")
def test_vectors_match_the_published_model(encoder, case):
    encoder._cache.clear()
    vector = encoder.embed([case["text"]])[0]
    expected = np.array(case["vector"])
    assert np.abs(vector - expected).max() < 1e-4
    assert float(vector @ expected) > 0.99999


def test_word_pieces_split_unknown_words_into_known_pieces(encoder):
    tokens = encoder.tokenizer.encode("Microneedling swolen!").tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and tokens[-2] == "!"
    assert "[UNK]" not in tokens
    assert " ".join(tokens[1:-2]).replace(" ##", "") == "microneedling swolen"


def test_word_pieces_lowercase_and_strip_accents(encoder):
    assert encoder.tokenizer.encode("Café").ids == encoder.tokenizer.encode("cafe").ids


def test_long_text_is_truncated(encoder):
    assert len(encoder.tokenizer.encode("red " * 500).ids) == 128


def test_vectors_are_unit_length(encoder):
    vectors = encoder.embed(["can I wear makeup?", "hi"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_are_closer_than_other_topics(encoder):
    makeup, foundation, swollen, sauna = encoder.embed(
        [
            "can I wear makeup?",
            "is it ok to put my foundation on",
            "my face is really swollen",
            "can i go in the sauna",
        ]
    )
    assert makeup @ foundation > makeup @ swollen
    assert makeup @ foundation > makeup @ sauna


def test_same_text_gives_the_same_vector(encoder):
    first = encoder.embed(["is oozing normal on day 4?"])
    encoder._cache.clear()
    assert np.allclose(first, encoder.embed(["is oozing normal on day 4?"]))


def test_missing_model_files_give_a_clear_error(tmp_path):
    with pytest.raises(EncoderMissing, match="make venv"):
        MiniLM(tmp_path)


def test_the_tokenizer_reads_the_model_vocabulary():
    assert word_pieces(Settings.from_env({}).minilm_dir / "vocab.txt").get_vocab_size() == 30522
