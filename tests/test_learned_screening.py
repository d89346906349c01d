"""The learned screening net beside the lexicon: what it may add, and what the lexicon's
reading of context (denied, someone else's, said to be fine, a figure of speech) keeps away.

The combining rules are tested on net readings given as probabilities; the last tests run the
project's trained net itself."""

from __future__ import annotations

import pytest

from bot.language.screening import Screener
from bot.language.screening.combine import (
    LEARNED,
    NOT_PRESENT,
    SURE,
    combine,
    not_the_clients,
    recheck_without,
    remainder,
)
from bot.language.screening.learned import LearnedScreening, net_dir
from bot.service.answering import Screeners
from bot.settings import PROJECT_DIR, Settings


@pytest.fixture(scope="module")
def screener(clinic) -> Screener:
    return Screener(clinic.lexicon)


def reading(emergency: float = 0.0, present: float = 1.0, **labels: float) -> LearnedScreening:
    """A net reading: `symptom__swelling=0.9` stands for the label `symptom:swelling`."""
    probabilities = {"emergency": emergency, "context:present": present}
    probabilities |= {k.replace("__", ":"): v for k, v in labels.items()}
    return LearnedScreening(probabilities, {k: 0.5 for k in probabilities})


def test_the_net_adds_an_emergency_the_lexicon_has_no_words_for(screener):
    screening = combine(screener.screen("my face feels really strange"), reading(emergency=0.8))
    assert screening.emergency == (LEARNED,) and screening.is_emergency


def test_an_emergency_sign_the_client_denies_needs_a_sure_net(screener):
    lexicon = screener.screen("my lips aren't swollen at all")
    assert lexicon.denied_emergency
    assert not combine(lexicon, reading(emergency=0.8)).is_emergency
    assert combine(lexicon, reading(emergency=SURE)).is_emergency


def test_saying_lips_and_breathing_are_fine_is_read_away(screener):
    lexicon = screener.screen("bit puffy round the eyes, lips are fine and breathing is normal")
    assert lexicon.denied_emergency and not lexicon.is_emergency
    assert any("lips are fine" in text for text in lexicon.read_away)
    assert not combine(lexicon, reading(emergency=0.8)).is_emergency


def test_a_symptom_read_as_someone_elses_is_not_added_by_the_net(screener):
    lexicon = screener.screen("my cousin got hives after hers")
    added = combine(lexicon, reading(symptom__allergic_reaction=0.8))
    assert "allergic_reaction" not in added.active_topics


def test_nothing_is_added_when_the_net_reads_no_present_symptom(screener):
    added = combine(
        screener.screen("what happens if it gets infected?"),
        reading(emergency=0.9, present=0.1, symptom__infection_signs=0.9),
    )
    assert not added.is_emergency and not added.active_topics


def test_getting_better_bars_the_nets_worsening(screener):
    lexicon = screener.screen("the redness is less red than yesterday")
    added = combine(lexicon, reading(sign__worsening=0.9, symptom__redness=0.9))
    assert "worsening" not in added.signs


def test_a_symptom_told_as_over_takes_no_sign_from_the_net(screener):
    lexicon = screener.screen(
        "a tiny bit of bleeding when I got home but it stopped after a minute"
    )
    added = combine(lexicon, reading(symptom__bleeding=0.99, sign__wont_stop=0.95))
    assert "wont_stop" not in added.signs and not added.active_topics
    ongoing = screener.screen("a tiny bit of bleeding when I got home")
    assert "wont_stop" in combine(ongoing, reading(sign__wont_stop=0.95)).signs
    other = screener.screen("the bleeding stopped after a minute")
    spreading = combine(other, reading(symptom__redness=0.95, sign__spreading=0.95))
    assert "spreading" in spreading.signs  # a new symptom the net reads keeps its sign


def test_the_remainder_leaves_out_the_clauses_read_away():
    text = (
        "My eyes are a bit swollen today. Lips are fine, throat is fine. Is that normal for day 1?"
    )
    assert remainder(text, ("Lips are fine",)) == (
        "My eyes are a bit swollen today. Is that normal for day 1?"
    )


def test_a_symptom_only_the_net_found_must_be_there_without_the_clauses_read_away(screener):
    text = "Breathing fine. Lips fine. Just a bit itchy today"
    lexicon = screener.screen(text)
    combined = combine(lexicon, reading(symptom__allergic_reaction=0.8, symptom__itching=0.9))
    assert "allergic_reaction" in combined.active_topics
    rest = recheck_without(
        combined, text, lexicon.read_away, lambda rest: reading(symptom__itching=0.9)
    )
    assert "allergic_reaction" not in rest.active_topics and "itching" in rest.active_topics
    assert not any(label.endswith("allergic_reaction") for label in rest.learned)
    still = recheck_without(
        combined, text, lexicon.read_away, lambda rest: reading(symptom__allergic_reaction=0.8)
    )
    assert "allergic_reaction" in still.active_topics


def test_an_emergency_only_the_net_reads_must_be_there_without_someone_elses_symptom(screener):
    text = "My sister's face swelled up massively after hers, lips and all. Mine's fine, just red."
    lexicon = screener.screen(text)
    away = not_the_clients(lexicon)
    assert any("swelled" in clause for clause in away)
    combined = combine(lexicon, reading(emergency=0.9, symptom__redness=0.9))
    assert combined.is_emergency  # the net alone reads one
    read = lambda rest: reading(emergency=0.9 if "swelled" in rest else 0.1)  # noqa: E731
    assert not recheck_without(combined, text, away, read).is_emergency
    # The client's own, in words only the net reads, beside it stays an emergency.
    own = "My sister's face swelled up after hers. Now my mouth feels full of cotton wool"
    lexicon_own = screener.screen(own)
    assert not lexicon_own.is_emergency  # only the net reads this one
    net = lambda rest: reading(emergency=0.9 if "cotton wool" in rest else 0.1)  # noqa: E731
    combined_own = combine(lexicon_own, reading(emergency=0.9))
    assert recheck_without(combined_own, own, not_the_clients(lexicon_own), net).is_emergency


def test_asking_whether_swollen_lips_are_normal_is_no_all_clear(screener):
    asked = screener.screen("Is the swelling in my lips normal 2 days after? they're huge")
    assert asked.is_emergency and not asked.read_away
    assert not screener.screen("lips ok?? they feel a bit funny").read_away
    assert screener.screen("bit itchy, lips are fine, can I wear makeup?").read_away


@pytest.fixture(scope="module")
def screeners(trained_model) -> Screeners:
    """Both nets as the bot runs them: the project's trained net and the sentence encoder."""
    settings = Settings.from_env({"AFTERCARE_HOME": str(PROJECT_DIR)})
    return Screeners(net_dir(trained_model.parent), settings.minilm_dir)


def test_the_trained_net_counts_no_emergency_in_what_the_client_says_is_fine(screeners, clinic):
    text = (
        "Bit swollen around my eyes this morning. Lips are fine, throat's fine, breathing "
        "totally normal. Just checking that's ok"
    )
    assert not screeners.screen(clinic.lexicon, text, False).is_emergency


def test_the_trained_net_still_finds_an_emergency_beside_a_denied_sign(screeners, clinic):
    text = (
        "no wheezing or anything but my throat feels like it's getting narrower and my voice is odd"
    )
    screening = screeners.screen(clinic.lexicon, text, False)
    assert screening.read_away and screening.is_emergency


def test_a_sign_the_net_reads_as_nobody_s_present_symptom_is_unsure(screener):
    lexicon = screener.screen("my husband has a cold sore, can I kiss him")
    assert "cold_sores" in lexicon.active_topics  # the lexicon reads it as the client's
    assert combine(lexicon, reading(present=NOT_PRESENT / 2)).unsure_whose
    assert not combine(lexicon, reading(present=NOT_PRESENT + 0.1)).unsure_whose


def test_a_sign_told_as_back_again_or_an_emergency_is_never_unsure(screener):
    again = screener.screen("it's oozing again on day 3 after it had totally stopped")
    assert again.recurring
    assert not combine(again, reading(present=0.05)).unsure_whose
    emergency = screener.screen("my throat is closing up")
    assert emergency.is_emergency
    assert not combine(emergency, reading(present=0.05)).unsure_whose


def test_a_bare_question_about_a_symptom_keeps_the_safer_reading(screener):
    lexicon = screener.screen("is oozing normal on day 4?")
    assert not combine(lexicon, reading(present=0.05), bare_question=True).unsure_whose


def test_a_sign_that_alone_says_something_is_wrong_is_never_unsure(screener):
    lexicon = screener.screen("bleeding wont stop what do i do")
    assert lexicon.worrying
    assert not combine(lexicon, reading(present=0.05)).unsure_whose


def test_a_wheeze_told_beside_an_idiom_about_the_itch_is_an_emergency(screeners, clinic):
    text = (
        "honestly the worst thing is the itch, it's driving me mad, and there's a bit of a "
        "wheeze when i lie down. 2 days post"
    )
    assert screeners.screen(clinic.lexicon, text, False).is_emergency
