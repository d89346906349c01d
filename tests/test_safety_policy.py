"""The safety policy, tested as a property over the clinic's own words and days:

1. A message about the client's own symptom, present now, gets escalation `none` only when
   every symptom in it is placed in an expected window with no sign of trouble.
2. A symptom the bot cannot place gets at least `question`.
3. An emergency cue anywhere wins over everything, also inside other questions.

Messages are built from the shipped lexicon's words (every symptom topic, sign and emergency
phrase), in carrier sentences a client would write, on every day from 0 to 30.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.advisor import Answer
from bot.kb.loader import load_clinic
from bot.kb.model import level_rank
from bot.service import NeedsDate
from tests.conftest import SHIPPED_CLINIC

CLINIC = load_clinic(SHIPPED_CLINIC)
LEXICON = CLINIC.lexicon
SYMPTOMS = sorted(LEXICON.symptoms)
REPORTS = [
    "my {word} is really bothering me",
    "I've got {word} on my cheeks",
    "there's some {word} today",
    "quick one, {word} on my face, is that ok?",
]
QUESTIONS = ["can I wear makeup?", "when can I go to the gym?", "is it ok to wash my face?"]
EMERGENCIES = ["my lips are swelling up", "I can't breathe properly", "I fainted earlier"]
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _level(result: Answer | NeedsDate) -> str:
    assert isinstance(result, Answer), result
    return result.escalation


def _expected_window(topic: str, day: int) -> bool:
    window = CLINIC.kb.topic(topic).window_on(day, CLINIC.settings.default_treatment_kind)
    return window is not None and window.expected is True


@pytest.fixture
def dated(service):
    """A conversation per day: day N's treatment date is stored."""
    made = set()

    def sender(day: int) -> str:
        name = f"policy-{day}"
        if name not in made:
            service.save_treatment_date(name, f"{day} days ago" if day else "today")
            made.add(name)
        return name

    return sender


@HYPOTHESIS
@given(
    topic=st.sampled_from(SYMPTOMS),
    day=st.integers(0, 30),
    carrier=st.sampled_from(REPORTS),
    data=st.data(),
)
def test_a_reported_symptom_is_calm_only_in_its_expected_window(
    service, dated, topic, day, carrier, data
):
    word = data.draw(st.sampled_from(LEXICON.symptoms[topic]))
    level = _level(service.respond(dated(day), "nlu_fallback", carrier.format(word=word)))
    if level == "none":
        assert _expected_window(topic, day), (topic, word, day)


@HYPOTHESIS
@given(
    topic=st.sampled_from(SYMPTOMS),
    sign=st.sampled_from(sorted(LEXICON.worrying_signs - {"not_improving"})),
    day=st.integers(0, 30),
    data=st.data(),
)
def test_a_symptom_with_a_sign_of_trouble_is_never_calm(service, dated, topic, sign, day, data):
    word = data.draw(st.sampled_from(LEXICON.symptoms[topic]))
    sign_words = [w for w in LEXICON.signs[sign] if w not in LEXICON.not_worrying_alone]
    sign_word = data.draw(st.sampled_from(sign_words))
    text = f"the {word} on my face is {sign_word}"
    assert level_rank(_level(service.respond(dated(day), "nlu_fallback", text))) >= 1, text


@HYPOTHESIS
@given(word=st.sampled_from(LEXICON.unplaced), day=st.integers(0, 30))
def test_a_symptom_the_bot_cannot_place_goes_to_a_person(service, dated, word, day):
    text = f"I've noticed a {word} on my face today"
    assert level_rank(_level(service.respond(dated(day), "nlu_fallback", text))) >= 1, text


@HYPOTHESIS
@given(
    emergency=st.sampled_from(EMERGENCIES),
    question=st.sampled_from(QUESTIONS),
    day=st.integers(0, 30),
    intent=st.sampled_from(["makeup", "exercise", "cleansing", "greet", "nlu_fallback"]),
)
def test_an_emergency_inside_another_question_wins(
    service, dated, emergency, question, day, intent
):
    text = f"{question} also {emergency}"
    assert _level(service.respond(dated(day), intent, text)) == "emergency", text


@HYPOTHESIS
@given(
    phrase=st.sampled_from(LEXICON.emergency_phrases), day=st.one_of(st.none(), st.integers(0, 30))
)
def test_every_emergency_phrase_is_an_emergency_on_any_day_known_or_not(
    service, dated, phrase, day
):
    sender = dated(day) if day is not None else "policy-no-date"
    text = f"help, {phrase} just now"
    assert _level(service.respond(sender, "nlu_fallback", text)) == "emergency", text
