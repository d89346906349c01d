"""Context the screener reads around an emergency or a sign, and the day a question is about:
the readings added after held-out set H8 (past emergencies, a symptom asked and answered "no",
"non-" prefixes, a sign inside a symptom that is over, other people at work)."""

from __future__ import annotations

import pytest

from bot.language.day_mentions import asks, find_day_mention
from bot.language.screening import Screener
from bot.service.messages import Incoming
from tests.test_service import NOW


@pytest.fixture(scope="module")
def screener(clinic) -> Screener:
    return Screener(clinic.lexicon)


@pytest.mark.parametrize(
    "text",
    [
        "Fainted at the sight of the needle last time lol, this time I was fine",
        "my throat went tight after a chemical peel last year, nothing like that now",
        "chest pain? no. fever? no. just checking what's normal",
        "I thought I was gonna pass out from the smell of the numbing cream, all good now",
        "I can't breathe when I see how much this serum costs 😂",
    ],
)
def test_past_denied_and_figurative_emergencies_are_no_emergency(screener, text):
    assert not screener.screen(text).is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "I fainted last time and now I feel faint again",
        "chest pain since this morning",
        "I feel like I'm going to pass out",
        "last time my lips swelled up and it's happening again",
    ],
)
def test_a_past_emergency_that_is_back_or_a_present_one_stays_an_emergency(screener, text):
    assert screener.screen(text).is_emergency


def test_non_before_a_sign_denies_it_but_non_stop_bleeding_is_the_wont_stop_sign(screener):
    assert "spreading" not in screener.screen("D1 erythema, non-spreading, afebrile").signs
    bleeding = screener.screen("it's been non-stop bleeding since this morning")
    assert bleeding.active_topics == ("bleeding",) and "wont_stop" in bleeding.signs


def test_a_sign_inside_a_symptom_that_is_over_is_not_live(screener):
    text = "Had a rash from a different cream a month before my treatment, it had cleared up"
    assert "rash" not in screener.screen(text).signs
    assert "rash" in screener.screen("I've got a rash from the serum").signs


def test_since_before_a_past_time_keeps_the_symptom_present(screener):
    text = "I've got darker freckly patches on my forehead since the treatment 2 weeks ago"
    assert screener.screen(text).active_topics == ("pigmentation",)


def test_a_colleagues_symptom_is_someone_elses(screener):
    text = "The girl at work said her face bled for days after hers. Mine stopped straight after."
    assert "bleeding" not in screener.screen(text).active_topics


def test_worry_about_a_symptom_from_a_video_is_not_a_report(screener):
    text = "Breathing fine, lips normal. Got paranoid from a TikTok about allergic reactions"
    assert "allergic_reaction" not in screener.screen(text, symptom_question=True).active_topics


def test_the_client_coming_back_is_no_worsening(screener):
    assert not screener.screen("how often should I come back?").signs
    assert "worsening" in screener.screen("the redness came back this morning").signs


def test_a_story_day_before_the_stated_day_is_not_the_day_asked_about(clinic):
    text = "Day 5. I looked awful on day 1 but it's calmed down. Can I use my peptide serum?"
    assert find_day_mention(text, clinic.language).resolve(None) == 5


def test_a_question_about_today_beside_tomorrow_is_about_today(clinic):
    text = "big presentation tomorrow, need to know if I can wear concealer today - it's day 3"
    assert find_day_mention(text, clinic.language).resolve(None) == 3
    assert (
        find_day_mention("it's day 3, can I wear makeup tomorrow?", clinic.language).resolve(None)
        == 4
    )


@pytest.mark.parametrize(
    "text", ["need to know if I can wear concealer", "wondering if she can go swimming"]
)
def test_indirect_questions_ask(text):
    assert asks(text)


def test_a_red_flag_beside_a_question_outside_the_kb_says_so_without_an_offer(service):
    service.save_treatment_date("c1", "2 days ago", NOW)
    text = "feeling feverish and shivery, is it ok to take ibuprofen?"
    outcome = service.answer(Incoming("c1", "infection_signs", text), now=NOW)
    assert [r.key for r in outcome.replies] == ["red_flag", "kb_no_guidance"]
    assert outcome.replies[1].buttons == ()
    assert outcome.replies[1].text == service.phrase("no_guidance_alerted")
    assert outcome.slots["handoff_offer"] is None


@pytest.mark.parametrize(
    ("margin", "placed", "emergency"),
    [(0.1, True, False), (0.25, True, True), (0.05, False, True)],
)
def test_an_emergency_only_the_net_reads_beside_a_placed_symptom_needs_a_margin(
    margin, placed, emergency
):
    from bot.language.screening.combine import PLACED_MARGIN, combine
    from bot.language.screening.found import Mention, Screening
    from bot.language.screening.learned import LearnedScreening

    assert margin != PLACED_MARGIN
    mentions = (Mention("swelling", "swollen", 3, 4),) if placed else ()
    learned = LearnedScreening({"emergency": 0.5 + margin}, {"emergency": 0.5})
    assert combine(Screening(mentions=mentions), learned).is_emergency is emergency


def test_a_past_time_after_from_and_a_cause_puts_the_symptom_in_the_past(screener):
    screening = screener.screen("The hives I had were from strawberries last summer, not skincare")
    assert not screening.active_topics and not screening.signs


@pytest.mark.parametrize(
    "text",
    ["my partner thinks I'm allergic to the serum", "I'm paranoid I'll get an infection"],
)
def test_someones_opinion_or_a_fear_is_no_report(screener, text):
    assert not screener.screen(text).active_topics


def test_redness_back_with_a_vengeance_is_worse(screener):
    text = "the redness was fading nicely and now it's back with a vengeance and really warm"
    assert "worsening" in screener.screen(text).signs


def test_a_symptom_over_but_from_today_is_checked_against_today(service):
    service.save_treatment_date("c1", "2 days ago", NOW)
    text = "Had some bleeding this morning out of nowhere, stopped after a bit"
    answer = service.respond("c1", "bleeding", text, now=NOW)
    assert answer.escalation == "urgent"
    service.save_treatment_date("c2", "today", NOW)
    calm = service.respond(
        "c2", "bleeding", "some bleeding this morning, stopped in minutes", now=NOW
    )
    assert calm.escalation == "none"
    yesterday = "Bled a bit on the drive home yesterday but it stopped in 5 mins"
    service.save_treatment_date("c3", "1 day ago", NOW)
    assert service.respond("c3", "bleeding", yesterday, now=NOW).escalation == "none"


def test_a_question_beside_several_expected_symptoms_is_answered_before_their_reassurance(
    service,
):
    service.save_treatment_date("c1", "1 day ago", NOW)
    text = "Just the expected redness, swelling and some flaking on day 1. Can I use my retinol?"
    answer = service.respond("c1", "redness", text, now=NOW)
    assert "retinoids_acids" in [p["topic"] for p in answer.parts]
