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
        ("is botox ok next week", "other_treatment"),
    ],
)
def test_a_message_names_the_topics_whose_cues_it_contains(cues, text, topic):
    assert topic in cues.topics_in(text)


@pytest.mark.parametrize("text", ["can I shave my legs?", "can I have a glass of wine tonight?"])
def test_an_outside_question_names_no_activity_topic(cues, clinic, text):
    activities = {k for k, t in clinic.kb.topics.items() if t.type == "activity"}
    assert not cues.topics_in(text) & activities
