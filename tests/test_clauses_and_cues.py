"""Reading a message in parts: its clauses, and which KB topics it names."""

from __future__ import annotations

import pytest

from bot.language.clauses import clauses
from bot.language.cues import CueReader


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "can I wear makeup tomorrow and is oozing normal?",
            ["can I wear makeup tomorrow", "is oozing normal?"],
        ),
        (
            "can i put on foundation tmrw and go for a run?",
            ["can i put on foundation tmrw and go for a run?"],
        ),
        ("Day 4. My face is red. Can I swim?", ["My face is red.", "Can I swim?"]),
        ("red and swollen and itchy", ["red and swollen and itchy"]),
        ("ok", ["ok"]),
        ("", []),
    ],
)
def test_a_message_splits_where_a_new_question_or_statement_starts(text, parts):
    assert clauses(text) == parts


def test_a_long_story_gives_each_sentence_its_own_clause():
    story = (
        "So yesterday was lovely, went to my sister's for lunch. Anyway my face is now leaking "
        "yellow stuff near my chin but otherwise fine. Kids are driving me mad lol"
    )
    assert (
        clauses(story)[1]
        == "Anyway my face is now leaking yellow stuff near my chin but otherwise fine."
    )


@pytest.fixture(scope="module")
def cues(clinic) -> CueReader:
    return CueReader(clinic.kb, clinic.lexicon)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("can I put on some concealer?", "makeup"),
        ("is the sauna ok yet", "heat_exposure"),
        ("when can I start my tretinoin again", "retinoids_acids"),
        ("my cheeks are swollen", "swelling"),  # symptom topics: the lexicon's words
        ("is the sauna ok next week", "heat_exposure"),
    ],
)
def test_a_message_names_the_topics_whose_cues_it_contains(cues, text, topic):
    assert topic in cues.topics_in(text)


def test_other_treatments_are_outside_the_kb(cues):
    assert cues.outside_in("is botox ok next week")
    assert cues.outside_in("can I get laser hair removal on my legs?")


@pytest.mark.parametrize("text", ["can I shave my legs?", "can I have a glass of wine tonight?"])
def test_an_outside_question_names_no_activity_topic(cues, clinic, text):
    activities = {k for k, t in clinic.kb.topics.items() if t.type == "activity"}
    assert not cues.topics_in(text) & activities


@pytest.mark.parametrize(
    ("text", "outside"),
    [
        ("can I take ibuprofen for the soreness?", True),
        ("is a spray tan ok on day 6?", True),
        ("ok to pop my contacts back in?", True),
        ("can I wear makeup tomorrow?", False),
    ],
)
def test_words_of_questions_the_kb_does_not_answer_are_found(cues, text, outside):
    assert cues.outside_in(text) is outside


def test_a_topic_cue_inside_an_outside_cue_names_no_topic(cues):
    assert "sun_protection" not in cues.topics_in("is a spray tan ok on day 6?")
    assert "sun_protection" in cues.topics_in("is tanning ok on day 6?")


def test_the_variants_a_question_names_are_found_for_their_topic(cues):
    assert cues.variants_in("cleansing", "my CeraVe foaming cleanser tonight?") == ("products",)
    assert cues.variants_in("moisturiser", "Vaseline or my Nivea cream?") == ("creams", "occlusive")
    assert cues.variants_in("exercise", "my CeraVe foaming cleanser tonight?") == ()
