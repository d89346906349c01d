"""The sentence encoder: BERT WordPiece tokenisation and meaningful unit vectors."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.minilm import MiniLM, WordPiece, load_encoder, model_dir


@pytest.fixture(scope="module")
def encoder() -> MiniLM:
    return load_encoder()


def test_wordpiece_splits_unknown_words_into_known_pieces():
    tokenizer = WordPiece(model_dir() / "vocab.txt")
    inverse = {v: k for k, v in tokenizer.vocab.items()}
    pieces = [inverse[i] for i in tokenizer.encode("Microneedling swolen!")]
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and pieces[-2] == "!"
    assert "[UNK]" not in pieces
    words = " ".join(pieces[1:-2]).replace(" ##", "")
    assert words == "microneedling swolen"


def test_wordpiece_lowercases_and_strips_accents():
    tokenizer = WordPiece(model_dir() / "vocab.txt")
    assert tokenizer.encode("Café") == tokenizer.encode("cafe")


def test_long_text_is_truncated():
    tokenizer = WordPiece(model_dir() / "vocab.txt")
    assert len(tokenizer.encode("red " * 500)) == 128


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
    from bot.nlu.minilm import EncoderMissing

    with pytest.raises(EncoderMissing, match="make venv"):
        MiniLM(tmp_path)
