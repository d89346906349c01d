"""Day arithmetic: day 0 is the treatment day, day 1 the next calendar day, in the clinic's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from bot.domain.days import date_for_day, local_today, treatment_day

LONDON = "Europe/London"
LOS_ANGELES = "America/Los_Angeles"
SYDNEY = "Australia/Sydney"
# Europe/London: clocks go forward at 01:00 UTC on 2026-03-29, back at 01:00 UTC on 2026-10-25.
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)


def utc(text: str) -> datetime:
    """An aware UTC moment from 'YYYY-MM-DDTHH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def local(text: str, zone: str, fold: int = 0) -> datetime:
    """An aware wall-clock moment in `zone`."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold)


# --- time zones -------------------------------------------------------------------------------


def test_local_today_is_the_clinic_date_not_the_utc_date():
    moment = utc("2026-11-21T05:00")  # 05:00 in London, 21:00 the evening before in Los Angeles
    assert local_today(LONDON, moment) == date(2026, 11, 21)
    assert local_today(LOS_ANGELES, moment) == date(2026, 11, 20)
    assert local_today("UTC", moment) == date(2026, 11, 21)


def test_same_moment_is_still_treatment_day_in_los_angeles_but_day_1_in_london():
    moment = utc("2026-11-21T05:00")
    treated = date(2026, 11, 20)
    assert treatment_day(treated, LOS_ANGELES, moment) == 0
    assert treatment_day(treated, LONDON, moment) == 1


def test_moment_ahead_of_utc_is_already_tomorrow_in_sydney():
    moment = utc("2026-11-20T14:00")  # 01:00 on the 21st in Sydney (UTC+11 in November)
    assert local_today(SYDNEY, moment) == date(2026, 11, 21)
    assert treatment_day(date(2026, 11, 20), SYDNEY, moment) == 1
    assert treatment_day(date(2026, 11, 20), LONDON, moment) == 0


def test_now_given_with_a_foreign_offset_is_converted_to_the_clinic_zone():
    moment = datetime(2026, 11, 21, 9, 0, tzinfo=timezone(timedelta(hours=10)))  # 23:00 UTC on 20th
    assert local_today(LONDON, moment) == date(2026, 11, 20)
    assert treatment_day(date(2026, 11, 20), LONDON, moment) == 0


def test_unknown_time_zone_fails_loudly():
    with pytest.raises(ZoneInfoNotFoundError):
        local_today("Mars/Olympus_Mons", utc("2026-11-21T12:00"))


# --- local midnight -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "before_midnight", "at_midnight"),
    [
        # London winter (GMT = UTC+0)
        (LONDON, utc("2026-11-21T23:59:59"), utc("2026-11-22T00:00:00")),
        # London summer (BST = UTC+1): local midnight is 23:00 UTC
        (LONDON, utc("2026-07-10T22:59:59"), utc("2026-07-10T23:00:00")),
        # Los Angeles winter (PST = UTC-8): local midnight is 08:00 UTC
        (LOS_ANGELES, utc("2026-11-22T07:59:59"), utc("2026-11-22T08:00:00")),
    ],
)
def test_day_changes_exactly_at_local_midnight(zone, before_midnight, at_midnight):
    treated = local_today(zone, before_midnight)
    assert treatment_day(treated, zone, before_midnight) == 0
    assert treatment_day(treated, zone, at_midnight) == 1
    assert treatment_day(treated, zone, at_midnight - timedelta(microseconds=1)) == 0


def test_one_second_before_midnight_is_still_treatment_day():
    treated = date(2026, 11, 21)
    assert treatment_day(treated, LONDON, local("2026-11-21T23:59:59", LONDON)) == 0
    assert treatment_day(treated, LONDON, local("2026-11-22T00:00:01", LONDON)) == 1


def test_treatment_day_itself_is_day_0_from_morning_to_night():
    treated = date(2026, 11, 21)
    for clock in ("00:00", "09:30", "18:00", "23:59"):
        assert treatment_day(treated, LONDON, local(f"2026-11-21T{clock}", LONDON)) == 0


# --- daylight saving changes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        utc("2026-03-29T00:30"),  # 00:30 GMT, before the clocks go forward
        utc("2026-03-29T01:00"),  # 02:00 BST, the instant they do
        local("2026-03-29T12:00", LONDON),
        utc("2026-03-29T22:59:59"),  # 23:59:59 BST, the end of a 23-hour day
    ],
)
def test_treatment_before_spring_forward_is_day_1_all_next_day(moment):
    assert treatment_day(SPRING_FORWARD - timedelta(days=1), LONDON, moment) == 1


def test_day_after_spring_forward_starts_at_local_midnight_not_utc_midnight():
    treated = SPRING_FORWARD - timedelta(days=1)
    assert treatment_day(treated, LONDON, utc("2026-03-29T23:00")) == 2  # 00:00 BST on the 30th
    assert treatment_day(treated, LONDON, utc("2026-03-29T22:59")) == 1


@pytest.mark.parametrize(
    "moment",
    [
        utc("2026-10-24T23:00"),  # 00:00 BST on the 25th
        local("2026-10-25T01:30", LONDON, fold=0),  # 01:30 BST, first time round
        local("2026-10-25T01:30", LONDON, fold=1),  # 01:30 GMT, second time round
        utc("2026-10-25T23:59:59"),  # 23:59:59 GMT, the end of a 25-hour day
    ],
)
def test_treatment_before_fall_back_is_day_1_all_next_day(moment):
    assert treatment_day(FALL_BACK - timedelta(days=1), LONDON, moment) == 1


def test_day_after_fall_back_starts_at_local_midnight():
    treated = FALL_BACK - timedelta(days=1)
    assert treatment_day(treated, LONDON, utc("2026-10-26T00:00")) == 2
    # Still BST on the evening of the 24th: 23:00 UTC is already midnight on the 25th locally.
    assert treatment_day(treated, LONDON, utc("2026-10-24T22:59")) == 0
    assert treatment_day(treated, LONDON, utc("2026-10-24T23:00")) == 1


@pytest.mark.parametrize(
    ("treated", "moment", "expected"),
    [
        # Across spring forward: 20 March to 2 April is 13 calendar days, not 13 x 24h minus 1h.
        (date(2026, 3, 20), local("2026-04-02T00:30", LONDON), 13),
        (date(2026, 3, 28), local("2026-03-30T00:00", LONDON), 2),
        # Across fall back: 20 October to 30 October is 10 days, whatever the 25-hour day.
        (date(2026, 10, 20), local("2026-10-30T23:59", LONDON), 10),
        (date(2026, 10, 24), local("2026-10-26T00:00", LONDON), 2),
        # Los Angeles changes on other dates (8 March, 1 November 2026).
        (date(2026, 3, 7), local("2026-03-09T00:00", LOS_ANGELES), 2),
        (date(2026, 10, 31), local("2026-11-02T23:59", LOS_ANGELES), 2),
    ],
)
def test_day_counts_across_dst_are_whole_calendar_days(treated, moment, expected):
    assert treatment_day(treated, moment.tzinfo.key, moment) == expected


# --- before treatment, and future dates ----------------------------------------------------------


@pytest.mark.parametrize(
    ("treated", "expected"),
    [
        (date(2026, 11, 22), -1),
        (date(2026, 11, 25), -4),
        (date(2026, 12, 21), -30),
        (date(2026, 11, 21), 0),
        (date(2026, 11, 14), 7),
        (date(2025, 11, 21), 365),
    ],
)
def test_days_before_and_after_treatment(treated, expected):
    assert treatment_day(treated, LONDON, local("2026-11-21T10:00", LONDON)) == expected


def test_day_count_spans_month_and_year_ends():
    assert treatment_day(date(2026, 12, 30), LONDON, local("2027-01-02T08:00", LONDON)) == 3
    assert treatment_day(date(2028, 2, 28), LONDON, local("2028-03-01T08:00", LONDON)) == 2  # leap


# --- naive datetimes --------------------------------------------------------------------------------


NAIVE = datetime(2026, 11, 21, 12, 0)


def test_local_today_rejects_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        local_today(LONDON, NAIVE)


def test_treatment_day_rejects_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        treatment_day(date(2026, 11, 20), LONDON, NAIVE)


def test_date_for_day_rejects_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        date_for_day(3, LONDON, NAIVE)


def test_without_now_uses_the_current_time():
    before = datetime.now(timezone.utc).date()
    today = local_today("UTC")
    after = datetime.now(timezone.utc).date()
    assert today in {before, after}
    assert treatment_day(today, "UTC") in {0, 1}


# --- date_for_day ---------------------------------------------------------------------------------


def test_date_for_day_counts_back_from_the_clinic_date():
    moment = utc("2026-11-21T05:00")  # 21st in London, 20th in Los Angeles
    assert date_for_day(0, LONDON, moment) == date(2026, 11, 21)
    assert date_for_day(3, LONDON, moment) == date(2026, 11, 18)
    assert date_for_day(3, LOS_ANGELES, moment) == date(2026, 11, 17)
    assert date_for_day(-2, LONDON, moment) == date(2026, 11, 23)


def test_date_for_day_just_after_spring_forward():
    # 00:30 BST on 30 March is 23:30 UTC on the 29th; the clinic's date is the 30th.
    assert date_for_day(1, LONDON, utc("2026-03-29T23:30")) == date(2026, 3, 29)


@pytest.mark.parametrize(
    "moment",
    [
        utc("2026-11-21T05:00"),
        utc("2026-03-29T00:30"),
        utc("2026-03-29T23:30"),
        local("2026-10-25T01:30", LONDON, fold=1),
        local("2026-12-31T23:59", LONDON),
        local("2026-01-01T00:00", LONDON),
    ],
)
@pytest.mark.parametrize("zone", [LONDON, LOS_ANGELES, SYDNEY, "UTC"])
def test_date_for_day_round_trips_with_treatment_day(moment, zone):
    for day in range(-3, 31):
        treated = date_for_day(day, zone, moment)
        assert treatment_day(treated, zone, moment) == day
