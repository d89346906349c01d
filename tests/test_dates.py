"""How clients say when their treatment was, and what date they mean."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.kb.loader import load_clinic
from bot.language.dates import DateAnswer, parse_treatment_date
from tests.conftest import SHIPPED_CLINIC

LANGUAGE = load_clinic(SHIPPED_CLINIC).language

# Saturday 21 November 2026. Mon 16, Tue 17, Wed 18, Thu 19, Fri 20, Sun 15, Sat 14.
TODAY = date(2026, 11, 21)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def parse(text: str, today: date = TODAY, date_order: str = "DMY") -> DateAnswer:
    return parse_treatment_date(text, today, LANGUAGE, date_order)


# --- relative phrasings -------------------------------------------------------------------------

SAME_DAY = [
    "today",
    "Today",
    "TODAY",
    "2day",  # text-speak for today; "2day ago" below is a count
    "tdy",
    "this morning",
    "this afternoon",
    "earlier today",
    "earlier",
    "just now",
    "I just had it done",
    "a few hours ago",
    "an hour ago",
    "12 hours ago",
    "today at 2.30",
    "just had it at 10.15",
    "day 0",
]


@pytest.mark.parametrize("text", SAME_DAY)
def test_same_day_phrasings_mean_today(text):
    assert parse(text) == DateAnswer(TODAY)


YESTERDAY = [
    "yesterday",
    "Yesterday",
    "YESTERDAY",
    "yesterday afternoon",
    "it was yesterday",
    "yday",
    "Yday morning",
    "yest",
    "yesturday",
    "yesteday evening",
    "last night",
    "1 day ago",
    "one day ago",
    "a day ago",
    "24 hours ago",
    "24hrs ago",
    # 36 hours ago could be either calendar day; hours round down to whole days.
    "about 36 hours ago",
    "day 1",
    "the first day",
]


@pytest.mark.parametrize("text", YESTERDAY)
def test_yesterday_phrasings_mean_yesterday(text):
    assert parse(text) == DateAnswer(days_ago(1))


@pytest.mark.parametrize(
    ("text", "expected_days_ago"),
    [
        ("the day before yesterday", 2),
        ("day before yesterday", 2),
        ("2 days ago", 2),
        ("2days ago", 2),
        ("2 day ago", 2),
        ("2day ago", 2),
        ("2d ago", 2),
        ("two days ago", 2),
        ("Two Days Ago", 2),
        ("a couple of days ago", 2),
        ("couple of days ago", 2),
        ("couple days ago", 2),
        ("3 days ago", 3),
        ("three days ago", 3),
        ("a few days ago", 3),
        ("few days ago", 3),
        ("3 days post", 3),
        ("I'm 3 days in", 3),
        ("3 days since", 3),
        ("5 days back", 5),
        ("roughly 5 days", 5),
        ("about 4 days", 4),
        ("10 days ago", 10),
        ("ten days ago", 10),
        ("had it done 2 days ago", 2),
    ],
)
def test_days_ago(text, expected_days_ago):
    assert parse(text) == DateAnswer(days_ago(expected_days_ago))


@pytest.mark.parametrize(
    ("text", "expected_days_ago"),
    [
        ("48 hours ago", 2),
        ("48hrs ago", 2),
        ("48 hrs ago", 2),
        ("48hr ago", 2),
        ("48h ago", 2),
        ("48 hours", 2),
        ("about 48 hours ago", 2),
        ("forty eight hours ago", 2),
        ("72 hours ago", 3),
        ("seventy-two hours ago", 3),
    ],
)
def test_hours_ago_count_whole_days(text, expected_days_ago):
    assert parse(text) == DateAnswer(days_ago(expected_days_ago))


@pytest.mark.parametrize(
    ("text", "expected_days_ago"),
    [
        ("a week ago", 7),
        ("1 week ago", 7),
        ("one week ago", 7),
        ("about a week ago", 7),
        ("a week ago today", 7),
        ("a week today", 7),
        ("last week today", 7),
        ("2 weeks ago", 14),
        ("2wks ago", 14),
        ("2 wk ago", 14),
        ("two weeks ago", 14),
        ("a couple of weeks ago", 14),
        ("maybe 2 weeks", 14),
        ("a fortnight ago", 14),
    ],
)
def test_weeks_ago(text, expected_days_ago):
    assert parse(text) == DateAnswer(days_ago(expected_days_ago))


@pytest.mark.parametrize(
    ("text", "expected_days_ago"),
    [
        ("day 4", 4),
        ("Day 4", 4),
        ("day4", 4),
        ("day four", 4),
        ("4th day", 4),
        ("fourth day", 4),
        ("I'm on day 2", 2),
        ("today is day 3", 3),
        ("it's day 3 today", 3),
        ("today is my second day", 2),
    ],
)
def test_day_number_counts_back_from_today(text, expected_days_ago):
    assert parse(text) == DateAnswer(days_ago(expected_days_ago))


# --- weekdays ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("had it done last thursday", date(2026, 11, 19)),
        ("had it done thursday morning", date(2026, 11, 19)),
        ("Thursday gone", date(2026, 11, 19)),
        ("thursday at 3.30pm", date(2026, 11, 19)),
        ("it was on monday", date(2026, 11, 16)),
        ("I just had it on monday", date(2026, 11, 16)),
        ("mon", date(2026, 11, 16)),
        ("sunday evening", date(2026, 11, 15)),
        ("Sunday", date(2026, 11, 15)),
        ("on sun", date(2026, 11, 15)),
        ("sun", date(2026, 11, 15)),
        ("last tues", date(2026, 11, 17)),
        ("I had it on Tuesday", date(2026, 11, 17)),
        ("last tuesday at 10.15", date(2026, 11, 17)),
        ("tuesday at 10.15 am", date(2026, 11, 17)),
        ("I sat in the sun on tuesday", date(2026, 11, 17)),
        ("weds", date(2026, 11, 18)),
        ("this past wednesday", date(2026, 11, 18)),
        ("friday night", date(2026, 11, 20)),
        ("last friday", date(2026, 11, 20)),
        # Naming today's weekday means a week ago; "this saturday" means today.
        ("saturday", date(2026, 11, 14)),
        ("last saturday", date(2026, 11, 14)),
        ("last sat", date(2026, 11, 14)),
        ("Sat.", date(2026, 11, 14)),
        ("sat morning", date(2026, 11, 14)),
        ("this saturday", date(2026, 11, 21)),
        # "<weekday> last week" is that day of the previous Monday-to-Sunday week.
        ("wednesday last week", date(2026, 11, 11)),
        ("monday last week", date(2026, 11, 9)),
        ("sunday last week", date(2026, 11, 15)),
    ],
)
def test_weekdays_mean_the_most_recent_one(text, expected):
    assert parse(text) == DateAnswer(expected)


def test_weekday_last_week_said_on_a_monday():
    monday = date(2026, 11, 23)
    assert parse("sunday last week", monday) == DateAnswer(date(2026, 11, 22))
    assert parse("friday last week", monday) == DateAnswer(date(2026, 11, 20))


# --- explicit dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18/11", date(2026, 11, 18)),
        ("18.11", date(2026, 11, 18)),
        ("18.11.26", date(2026, 11, 18)),
        ("18/11/2026", date(2026, 11, 18)),
        ("18-11-2026", date(2026, 11, 18)),
        ("on 18/11 at 3pm", date(2026, 11, 18)),
        ("2026-11-18", date(2026, 11, 18)),
        ("12 November", date(2026, 11, 12)),
        ("12th of November", date(2026, 11, 12)),
        ("12 nov", date(2026, 11, 12)),
        ("November 12", date(2026, 11, 12)),
        ("Nov 12th", date(2026, 11, 12)),
        ("nov the 12th", date(2026, 11, 12)),
        ("3rd november", date(2026, 11, 3)),
        ("nov 3 2026", date(2026, 11, 3)),
        ("21st november 2026", date(2026, 11, 21)),
        ("2nd Oct", date(2026, 10, 2)),
        ("on the 2nd", date(2026, 11, 2)),
        ("the 2nd", date(2026, 11, 2)),
        ("on 3rd", date(2026, 11, 3)),
        ("the 21st", date(2026, 11, 21)),
        # A day of the month still to come this month means last month.
        ("on the 25th", date(2026, 10, 25)),
        ("on the 31st", date(2026, 10, 31)),
        ("2025-11-25", date(2025, 11, 25)),
        # Day and month swapped when the month can't be > 12 ("11/18" in a DMY clinic).
        ("11/18", date(2026, 11, 18)),
    ],
)
def test_explicit_dates_day_month_order(text, expected):
    assert parse(text) == DateAnswer(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11/18", date(2026, 11, 18)),
        ("11/18/26", date(2026, 11, 18)),
        ("11/5", date(2026, 11, 5)),
        ("12/25/2025", date(2025, 12, 25)),
        ("18/11", date(2026, 11, 18)),  # 18 can't be a month: read as day/month
    ],
)
def test_explicit_dates_month_day_order(text, expected):
    assert parse(text, date_order="MDY") == DateAnswer(expected)


def test_date_order_decides_ambiguous_numeric_dates():
    assert parse("5/11") == DateAnswer(date(2026, 11, 5))
    assert parse("5/11", date_order="MDY") == DateAnswer(date(2026, 5, 11))


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        # Day and month with no year, said in early January about December: last year.
        ("18/12", date(2027, 1, 5), date(2026, 12, 18)),
        ("28 december", date(2027, 1, 2), date(2026, 12, 28)),
        ("Dec 31st", date(2027, 1, 1), date(2026, 12, 31)),
        ("12/30", date(2027, 1, 3), date(2026, 12, 30)),  # swapped: 30 can't be a month
        # "the 2nd" said on 1 January is 2 December last year.
        ("on the 2nd", date(2027, 1, 1), date(2026, 12, 2)),
        # 29 February with no year: the last one there was.
        ("29/02", date(2029, 1, 10), date(2028, 2, 29)),
        ("29/02", date(2028, 3, 1), date(2028, 2, 29)),
    ],
)
def test_dates_without_a_year_mean_the_most_recent_past_one(text, today, expected):
    assert parse(text, today) == DateAnswer(expected)


def test_month_day_in_mdy_order_in_early_january():
    assert parse("12/18", date(2027, 1, 5), "MDY") == DateAnswer(date(2026, 12, 18))


# --- problems ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "tomorrow",
        "Tomorrow morning",
        "tmrw",
        "2moro",
        "the day after tomorrow",
        "next tuesday",
        "next week",
        "in 3 days",
        "in two weeks",
        "25/11",  # four days ahead: a slip, not last November
        "28/11",  # a week ahead is still the future
        "22/11",
        "25 November",
        "November 22nd",
        "2026-11-22",
        "2027-01-01",
        "22/11/2026",
    ],
)
def test_future_dates_are_reported_as_future(text):
    assert parse(text) == DateAnswer(None, "future")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "asdf",
        "not sure",
        "I can't remember",
        "idk",
        "hello",
        "a while ago",
        "ages ago",
        # Too vague to pick a day; asking again is safer than guessing.
        "last week",
        "earlier this week",
        "a month ago",
        "2 months ago",
        # Impossible dates.
        "31/02",
        "31/02/2026",
        "31 february",
        "February 31",
        "on 31st february",
        "2026-02-30",
        "13/13",
        "0/11",
        # "sun" and "sat" here are not weekdays.
        "I was in the sun",
        "sat with ice on it",
        # Not "day 1 ago": the first of a month named in a way we don't parse.
        "1st day of November",
        "first day of the month",
    ],
)
def test_unclear_answers_are_reported_as_unclear(text):
    assert parse(text) == DateAnswer(None, "unclear")


def test_the_31st_when_last_month_had_30_days_is_unclear():
    # 31 December is still to come and November has no 31st.
    assert parse("on the 31st", date(2026, 12, 5)) == DateAnswer(None, "unclear")


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-01",
        "18/11/25",
        "3rd nov 2025",
        "400 days ago",
        "367 days ago",
        "60 weeks ago",
        "day 400",
    ],
)
def test_over_a_year_ago_is_too_old(text):
    assert parse(text) == DateAnswer(None, "too_old")


def test_a_year_ago_is_still_accepted():
    assert parse("366 days ago") == DateAnswer(days_ago(366))
    assert parse("52 weeks ago") == DateAnswer(days_ago(364))


def test_no_year_date_more_than_a_week_ahead_means_last_year():
    # More than a week ahead with no year is read as last year's date.
    today = date(2026, 12, 21)
    assert parse("28/12", today) == DateAnswer(None, "future")
    assert parse("29/12", today) == DateAnswer(date(2025, 12, 29))


# --- DateAnswer -----------------------------------------------------------------------------------


def test_answer_with_a_date_is_ok():
    answer = parse("yesterday")
    assert answer.ok
    assert answer.problem is None


@pytest.mark.parametrize("text", ["tomorrow", "asdf", "2025-01-01"])
def test_answer_with_a_problem_is_not_ok(text):
    answer = parse(text)
    assert not answer.ok
    assert answer.value is None
    assert answer.problem in {"future", "unclear", "too_old"}


def test_curly_apostrophe_is_understood():
    assert parse("it’s day 3 today") == DateAnswer(days_ago(3))
