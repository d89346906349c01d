"""A day stated inside a question ("is oozing normal on day 4?") answers that question only."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.domain.advisor import Advisor
from bot.domain.turn import Turn
from bot.kb.loader import load_clinic
from bot.language import day_mentions
from bot.language.day_mentions import DayMention
from tests.conftest import SHIPPED_CLINIC

LANGUAGE = load_clinic(SHIPPED_CLINIC).language


def find_day_mention(text: str) -> DayMention | None:
    return day_mentions.find_day_mention(text, LANGUAGE)


# --- absolute days: day N after treatment -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("is oozing normal on day 4?", 4),
        ("Day 2", 2),
        ("DAY TWO", 2),
        ("day3", 3),
        ("Day3 oozing", 3),
        ("on day ten", 10),
        ("day 0", 0),
        ("I'm on day 3", 3),
        ("today is day 3", 3),
        ("day 3 of 7", 3),
        ("the 4th day", 4),
        ("2nd day", 2),
        ("on the second day", 2),
        ("the second day after", 2),
        ("is itching normal the fifth day", 5),
    ],
)
def test_numbered_day_is_that_day(text, day):
    assert find_day_mention(text) == DayMention(day=day)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("48 hours after", 2),
        ("is redness normal 48 hours after treatment?", 2),
        ("48hrs after", 2),
        ("24hrs after", 1),
        ("24 hrs after", 1),
        ("72h post", 3),
        ("I'm 48 hours post", 2),
        ("forty eight hours after", 2),
        ("after 48 hours", 2),
        ("within 24 hours", 1),
        ("within the first 24 hours", 1),
        ("first 48 hours", 2),
        # Part days round down: 36 hours after is still day 1, 12 hours after day 0.
        ("36 hours after", 1),
        ("thirty six hours after", 1),
        ("12 hours after", 0),
    ],
)
def test_hours_after_mean_whole_days(text, day):
    assert find_day_mention(text) == DayMention(day=day)


def test_48_hours_after_means_day_2():
    assert find_day_mention("can I wear makeup 48 hours after?") == DayMention(day=2)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("3 days post", 3),
        ("I'm 3 days post and still red", 3),
        ("five days in", 5),
        ("five days in and still peeling", 5),
        ("10 days in", 10),
        ("three days later", 3),
        ("2 days out", 2),
        ("4 days since my treatment", 4),
        ("it's been 4 days since treatment", 4),
        ("2 days from treatment", 2),
        ("2day after", 2),
        ("a couple of days after", 2),
        ("couple of days after", 2),
        ("a couple days after", 2),
        ("a few days after", 3),
        ("after 3 days can I use retinol", 3),
        ("is it normal to still be red after 3 days", 3),
        ("can I exfoliate once 5 days after treatment", 5),
        ("a week after", 7),
        ("a week after treatment can I exfoliate", 7),
        ("red after a week", 7),
        ("1 week post", 7),
        ("2 weeks after", 14),
        ("2 wks after", 14),
        ("2wks after", 14),
        ("two weeks post", 14),
    ],
)
def test_days_and_weeks_after_treatment(text, day):
    assert find_day_mention(text) == DayMention(day=day)


@pytest.mark.parametrize(
    "text",
    [
        "the day after",
        "can I wear makeup the day after?",
        "the day after treatment",
        "the day after my needling",
        "the next day",
        "the morning after",
        "the night after",
        "a day after",
        "one day after",
        "a day later",
    ],
)
def test_the_day_after_means_day_1(text):
    assert find_day_mention(text) == DayMention(day=1)


@pytest.mark.parametrize(
    "text",
    [
        "same day",
        "can I shower the same day?",
        "on the day of treatment",
        "day of my treatment",
        "straight after",
        "right after treatment",
        "immediately after",
        "just after",
    ],
)
def test_same_day_and_straight_after_mean_day_0(text):
    assert find_day_mention(text) == DayMention(day=0)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("I had it done 2 days ago, is peeling normal", 2),
        ("3 days ago I had my treatment, is peeling normal", 3),
        ("treatment was 5 days ago", 5),
        ("my needling was a week ago, can I exfoliate", 7),
        ("couple of days ago I had my treatment", 2),
    ],
)
def test_treatment_n_days_ago_means_day_n(text, day):
    assert find_day_mention(text) == DayMention(day=day)


def test_a_stated_day_wins_over_tomorrow():
    assert find_day_mention("tomorrow is day 3, can I exfoliate?") == DayMention(day=3)


# --- relative to today --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("tomorrow", 1),
        ("can I wear makeup tomorrow?", 1),
        ("Tomorrow morning can I exercise", 1),
        ("tmrw", 1),
        ("can I go swimming 2moro", 1),
        ("the day after tomorrow", 2),
        ("day after tomorrow", 2),
        ("in 2 days", 2),
        ("in two days can I go to the gym", 2),
        ("in 3 days time", 3),
        ("2 days from now", 2),
        ("can I wear makeup 2 days from now", 2),
        ("a week from today", 7),
        ("can I exfoliate in a week", 7),
        ("in 2 weeks", 14),
    ],
)
def test_days_from_today_are_offsets(text, offset):
    assert find_day_mention(text) == DayMention(offset=offset)


# --- no day stated ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "can i wear makeup?",
        "Can I wear makeup",
        "when can i go in the sun",
        "is it ok to work out in the evening",
        "can I have a drink tonight",
        "how long after can I use makeup",
        "how many days after treatment can I wear makeup",
        # Not about the treatment: says when the redness was, not which day after treatment.
        "my skin was red 3 days ago",
        # Needle depth and dates are not days after treatment.
        "1.5mm",
        "I had a 1.5mm treatment, is bleeding normal",
        "18/11",
        "I had it on 18/11, can I wash my face",
        "on day 12/11",
        "day 3/7",
        # How often, not when.
        "can I wash my face twice a day after treatment",
        "how many times a day after treatment should I moisturise",
        "apply spf once a day in the first week",
        "should I moisturise every day after the treatment",
        "every other day after treatment",
        "every 2 days after treatment",
        "twice a week after treatment",
        # Before treatment is not a day after it.
        "can I use retinol 3 days before treatment",
        # Could be since anything; the stored treatment date is the safer answer.
        "it's been 4 days",
    ],
)
def test_no_day_stated_gives_none(text):
    assert find_day_mention(text) is None


# --- DayMention.resolve -------------------------------------------------------------------------


@pytest.mark.parametrize("today_day", [None, 0, 2, 10, -1])
def test_absolute_day_ignores_today(today_day):
    assert DayMention(day=4).resolve(today_day) == 4
    assert DayMention(day=0).resolve(today_day) == 0


@pytest.mark.parametrize(("today_day", "expected"), [(0, 1), (3, 4), (-2, -1), (13, 14)])
def test_offset_adds_to_today(today_day, expected):
    assert DayMention(offset=1).resolve(today_day) == expected


def test_offset_with_unknown_today_is_unknown():
    assert DayMention(offset=1).resolve(None) is None
    assert DayMention(offset=0).resolve(None) is None


def test_empty_mention_resolves_to_nothing():
    assert DayMention().resolve(3) is None
    assert DayMention().resolve(None) is None


def test_tomorrow_resolves_to_the_day_after_today():
    assert find_day_mention("can I wear makeup tomorrow?").resolve(2) == 3
    assert find_day_mention("can I wear makeup tomorrow?").resolve(None) is None


def test_day_after_tomorrow_resolves_two_days_ahead():
    assert find_day_mention("day after tomorrow").resolve(1) == 3


def test_stated_day_resolves_without_a_treatment_date():
    assert find_day_mention("is oozing normal on day 4?").resolve(None) == 4
    assert find_day_mention("48 hours after").resolve(7) == 2


# --- today stated, another day asked -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored_today", "asked"),
    [
        ("ok so its day 2 and can I go to the gym tomorrow morning", 5, 3),
        ("this no makeup life is killing me, day 2, tomorrow pls??", None, 3),
        ("zero pain. can I go running tomorrow? day 2", None, 3),
        ("I'm on day 5 - on day 10 I can go back to my tretinoin right?", 5, 10),
        ("day 3 today, can i run?", 1, 3),
        ("can I swim on day 3?", 1, 3),
        ("can i wear makeup tomorrow", 1, 2),
    ],
)
def test_a_question_about_another_day_than_the_one_stated_asks_about_that_day(
    text, stored_today, asked
):
    mention = find_day_mention(text)
    assert mention is not None and mention.resolve(stored_today) == asked


@pytest.mark.parametrize(
    ("text", "stored_today", "weekday", "asked"),
    [
        # Tuesday was day 0; Wednesday (2) is day 1.
        ("had it done yesterday (monday). ok to do the sauna at my gym thursday?", 1, 2, 2),
        ("can i do parkrun saturday? its thursday now and i had it done tuesday", 2, 3, 4),
        ("can I go swimming on Sunday?", 1, 2, 5),
        ("when can i go in the sun", 1, 2, 1),
        # A weekday in a story, not in the question, is not the day asked about.
        ("my face was very red on sunday but it's much calmer now", 2, 1, 2),
        ("it was sore on monday. can i wear makeup?", 2, 2, 2),
    ],
)
def test_a_weekday_asked_about_is_counted_from_today(text, stored_today, weekday, asked):
    mention = find_day_mention(text)
    assert (mention.resolve(stored_today, weekday) if mention else stored_today) == asked


@pytest.mark.parametrize(
    ("text", "stored_today", "asked"),
    [
        ("Hello, I can swim in the sea tomorrow? treatment was 2 days ago", None, 3),
        ("Had a few white spots on day 3 but they've gone. Can I start my retinol on day 7?", 6, 7),
    ],
)
def test_the_day_in_the_question_wins(text, stored_today, asked):
    assert find_day_mention(text).resolve(stored_today) == asked


@pytest.mark.parametrize(
    ("text", "stored_today", "days"),
    [
        ("day 5, just a bit pink still. can i surf tomorrow?", 5, [5]),
        ("it's day 5 and still a bit pink. can i surf tomorrow?", None, [5]),
        ("still red, can i go to the gym on day 5?", 1, [5, 1]),
        ("five days in it was oozing a lot, is that ok?", 7, [5, 7]),
    ],
)
def test_a_symptom_is_assessed_on_today_not_on_a_day_asked_about_ahead(text, stored_today, days):
    clinic = load_clinic(SHIPPED_CLINIC)
    turn = Turn(
        "s",
        "nlu_fallback",
        text,
        clinic,
        Advisor(clinic),
        None,
        datetime(2026, 12, 2, 10, tzinfo=timezone.utc),
        stored_today,
        find_day_mention(text),
    )
    assert turn.symptom_days == days
