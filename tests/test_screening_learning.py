"""The learned screening net's label matrix."""

from __future__ import annotations

from bot.language.screening.learning import examples


def test_a_sign_no_labelled_message_shows_is_left_to_the_lexicon():
    cases = [
        {"text": "it's getting worse", "symptoms": ["redness"], "signs": ["worsening"]},
        {"text": "all calm", "symptoms": [], "signs": []},
    ]
    data = examples(cases, ["redness"], ["worsening", "brand_new_sign"])
    assert "sign:worsening" in data.labels
    assert "sign:brand_new_sign" not in data.labels
    assert data.y.shape == (2, len(data.labels))
