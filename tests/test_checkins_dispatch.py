"""The check-in dispatcher, driven by a test clock over whole treatments: each check-in goes out
once, at the clinic's local time (across the clock changes), outside quiet hours; restarts,
a dispatcher dying mid-send, a bot down for hours and two dispatchers at once lose none and
double none. Rasa is the fake of its HTTP API on loopback; the database is SQLite and the
PostgreSQL server `make test` starts (`database_url`)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.alerts.checkins import LEASE_NAME, CheckinDispatcher
from bot.alerts.rasa_api import NotDelivered, RasaConversations
from bot.domain.checkins import in_quiet_hours, plan
from bot.settings import PROJECT_DIR
from bot.storage.checkin_plans import plan_conversation
from bot.storage.checkins import Checkins
from bot.storage.handoffs import Handoffs
from bot.storage.leases import Leases, run_while_held
from bot.storage.treatments import TreatmentRepository
from tests.conftest import edit

LONDON = ZoneInfo("Europe/London")  # clinic/settings.yml time_zone
SENDER = "telegram-4242"
STEP = timedelta(minutes=10)
HOUR, HALF_HOUR = timedelta(hours=1), timedelta(minutes=30)
DEFAULT_KEYS = ["day0_evening", "day1_morning", "day3_morning", "day7", "day28_book_next"]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """`hour:minute` on `day` in London, in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(
        timezone.utc
    )


class Clock:
    """The dispatcher's clock: whatever the test says it is."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Died(BaseException):
    """The dispatcher's process ended right here (nothing after it runs, nothing is caught)."""


class DyingConversations(RasaConversations):
    """Rasa's API for a dispatcher that dies while sending: before Rasa wrote the check-in,
    or right after (its answer never came back)."""

    def __init__(self, url: str, after_action: bool):
        super().__init__(url)
        self.after_action = after_action

    async def run_action(self, sender_id, action, slots, extra_events=None):
        if self.after_action:
            await super().run_action(sender_id, action, slots, extra_events)
        raise Died


class AnswerLost(RasaConversations):
    """Rasa ran the action (the check-in is in the chat) but its answer timed out, once."""

    def __init__(self, url: str):
        super().__init__(url)
        self.lost = 0

    async def run_action(self, sender_id, action, slots, extra_events=None):
        messages = await super().run_action(sender_id, action, slots, extra_events)
        if not self.lost:
            self.lost += 1
            raise httpx.ReadTimeout("the answer never came")
        return messages


def dispatcher(sessions, store, fake_rasa, clock, conversations=None) -> CheckinDispatcher:
    return CheckinDispatcher(
        sessions, store, conversations or RasaConversations(fake_rasa.url), clock
    )


def treat(sessions, store, sender: str, treated: date, now: datetime, kind="medical") -> int:
    """The conversation's treatment becomes known (a clinic link): its check-ins are planned."""
    TreatmentRepository(sessions).set_date(sender, treated, "clinic", kind)
    return plan_conversation(sessions, store.current(), sender, now)


def moments(start: datetime, end: datetime, busy=(), coarse: timedelta | None = None):
    """The clock's steps after `start` up to `end`: STEP (10 minutes) on the local days in
    `busy` (when check-ins are expected), `coarse` on the others (by default 3 hours if some
    days are busy, else STEP throughout). Coarse steps are whole hours from midnight: one
    still falls inside every window, and a check-in sent on a wrong day still shows."""
    moment, busy = start, set(busy)
    coarse = coarse or (timedelta(hours=3) if busy else STEP)
    while moment < end:
        local_day = moment.astimezone(LONDON).date()
        moment = min(moment + (STEP if local_day in busy else coarse), end)
        yield moment


def run(dispatchers, clock: Clock, until: datetime, busy=(), coarse=None) -> None:
    """Advance the clock to `until` (in the steps of `moments`), every dispatcher cycling at
    each step, as `CheckinDispatcher.run` would."""
    dispatchers = dispatchers if isinstance(dispatchers, list) else [dispatchers]
    times = list(moments(clock.now, until, busy, coarse))

    async def go() -> None:
        for moment in times:
            clock.now = moment
            for each in dispatchers:
                await each.cycle()

    asyncio.run(go())


def sent_rows(sessions, sender: str = SENDER) -> dict:
    """key -> the sent check-in's row, of one conversation."""
    return {v.key: v for v in Checkins(sessions).listing("sent", sender_id=sender)}


def rows(sessions, sender: str = SENDER) -> dict:
    return {v.key: v for v in Checkins(sessions).listing(sender_id=sender)}


def assert_each_sent_once(fake_rasa, sender: str = SENDER) -> list[str]:
    """The keys Rasa was asked to write into the conversation, each once; in order."""
    sent = [(row_id, key) for who, row_id, key in fake_rasa.checkins_sent() if who == sender]
    doubled = [item for item, n in Counter(sent).items() if n > 1]
    assert not doubled, f"sent more than once: {doubled}"
    return [key for _, key in sent]


# --- a whole treatment, across the clock changes ---------------------------------------------

SPRING = {  # UK clocks go forward on Sunday 29 March 2026 (GMT -> BST)
    "day0_evening": utc(2026, 3, 27, 18, 0),  # 18:00 GMT
    "day1_morning": utc(2026, 3, 28, 9, 0),  # 09:00 GMT
    "day3_morning": utc(2026, 3, 30, 8, 0),  # 09:00 BST
    "day7": utc(2026, 4, 3, 9, 0),  # 10:00 BST
    "day28_book_next": utc(2026, 4, 24, 9, 0),  # 10:00 BST
}
AUTUMN = {  # and back on Sunday 25 October 2026 (BST -> GMT)
    "day0_evening": utc(2026, 10, 23, 17, 0),  # 18:00 BST
    "day1_morning": utc(2026, 10, 24, 8, 0),  # 09:00 BST
    "day3_morning": utc(2026, 10, 26, 9, 0),  # 09:00 GMT
    "day7": utc(2026, 10, 30, 10, 0),  # 10:00 GMT
    "day28_book_next": utc(2026, 11, 20, 10, 0),  # 10:00 GMT
}


# The clock and the time zone are the planner's and the dispatcher's, not the database's: on
# SQLite only (PostgreSQL runs the restart test on the same spring dates).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("treated", "expected_utc"),
    [(date(2026, 3, 27), SPRING), (date(2026, 10, 23), AUTUMN)],
    ids=["spring", "autumn"],
)
def test_a_treatment_gets_the_five_check_ins_once_each_at_the_clinics_local_time(
    sessions, store, fake_rasa, treated, expected_utc
):
    clock = Clock(local(treated, 0, 0))
    assert treat(sessions, store, SENDER, treated, clock.now) == 5
    busy = [treated + timedelta(days=d) for d in (0, 1, 3, 7, 28)]

    run(dispatcher(sessions, store, fake_rasa, clock), clock, clock.now + timedelta(days=30), busy)

    assert assert_each_sent_once(fake_rasa) == DEFAULT_KEYS
    sent = sent_rows(sessions)
    assert {key: row.sent_at for key, row in sent.items()} == expected_utc
    assert {key: row.due_at for key, row in sent.items()} == expected_utc
    clinic = store.current()
    for key, row in sent.items():
        item = clinic.checkins.get(key)
        local_sent = row.sent_at.astimezone(LONDON)
        assert (local_sent.date() - treated).days == item.day
        assert local_sent.time() == item.start  # the start of its window, local time
        assert not in_quiet_hours(clinic.checkins, row.sent_at, "Europe/London")
        assert not row.late
    assert Checkins(sessions).listing("due") == []


def test_a_treatment_on_the_day_the_clocks_go_back_is_planned_in_local_time(clinic):
    treated = date(2026, 10, 25)  # 01:00-02:00 happens twice that night
    planned = plan(clinic.checkins, treated, "medical", "Europe/London", local(treated, 0, 0))
    assert {p.key: (p.due_at, p.until) for p in planned} == {
        "day0_evening": (utc(2026, 10, 25, 18, 0), utc(2026, 10, 25, 20, 45)),
        "day1_morning": (utc(2026, 10, 26, 9, 0), utc(2026, 10, 26, 12, 0)),
        "day3_morning": (utc(2026, 10, 28, 9, 0), utc(2026, 10, 28, 13, 0)),
        "day7": (utc(2026, 11, 1, 10, 0), utc(2026, 11, 1, 18, 0)),
        "day28_book_next": (utc(2026, 11, 22, 10, 0), utc(2026, 11, 22, 18, 0)),
    }


def test_only_the_check_ins_still_ahead_are_planned(clinic):
    treated = date(2026, 6, 1)
    now = local(treated + timedelta(days=1), 11, 0)  # day 1, its window still open
    planned = plan(clinic.checkins, treated, "medical", "Europe/London", now)
    assert [p.key for p in planned] == DEFAULT_KEYS[1:]


# --- restarts and a dispatcher that died mid-send -----------------------------------------------


def test_a_restarted_dispatcher_carries_on_without_losing_or_doubling_any(
    sessions, store, fake_rasa
):
    treated = date(2026, 3, 27)  # across the spring clock change, as SPRING
    clock = Clock(local(treated, 0, 0))
    for sender in (SENDER, "web-7"):
        treat(sessions, store, sender, treated, clock.now)
    every_3h = timedelta(hours=3)  # on a time inside every window
    first = dispatcher(sessions, store, fake_rasa, clock)
    run(first, clock, local(treated + timedelta(days=3), 12, 0), coarse=every_3h)
    assert len(fake_rasa.checkins_sent()) == 6  # day 0, 1 and 3 of both

    # The notifier restarts: a new dispatcher (which plans everything again) on the database.
    second = dispatcher(sessions, store, fake_rasa, clock)
    run(second, clock, local(treated + timedelta(days=29), 0), coarse=every_3h)

    for sender in (SENDER, "web-7"):
        assert assert_each_sent_once(fake_rasa, sender) == DEFAULT_KEYS
        sent = sent_rows(sessions, sender)
        assert {key: row.due_at for key, row in sent.items()} == SPRING
        assert all(timedelta(0) <= row.sent_at - row.due_at < every_3h for row in sent.values())


@pytest.mark.parametrize("after_action", [True, False], ids=["after-rasa-wrote", "before"])
def test_a_dispatcher_that_died_mid_send_leaves_the_check_in_to_the_next_one_sent_once(
    sessions, store, fake_rasa, after_action
):
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 17, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    dying = dispatcher(
        sessions, store, fake_rasa, clock, DyingConversations(fake_rasa.url, after_action)
    )
    with pytest.raises(Died):
        run(dying, clock, local(treated, 18, 0))
    (row,) = (v for v in Checkins(sessions).listing("due") if v.status == "sending")
    assert row.key == "day0_evening"  # in doubt: the dead dispatcher's claim runs out
    assert len(fake_rasa.checkins_sent()) == (1 if after_action else 0)

    # The next notifier takes over once the dead one's claim ran out.
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(treated, 19, 0))

    assert assert_each_sent_once(fake_rasa) == ["day0_evening"]
    sent = sent_rows(sessions)["day0_evening"]
    assert sent.sent_at == local(treated, 18, 10)  # the first step after the claim ran out


def test_a_send_whose_answer_never_came_is_not_sent_again(sessions, store, fake_rasa):
    """Rasa wrote the check-in but the dispatcher's request timed out: the retry finds it in
    the conversation instead of writing it a second time."""
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 17, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    lossy = AnswerLost(fake_rasa.url)

    run(dispatcher(sessions, store, fake_rasa, clock, lossy), clock, local(treated, 20, 0))

    assert lossy.lost == 1
    assert assert_each_sent_once(fake_rasa) == ["day0_evening"]
    assert sent_rows(sessions)["day0_evening"].status == "sent"


class ChannelDown(RasaConversations):
    """Rasa wrote the check-in into the conversation but its Telegram channel was not running,
    so the client never got it (Rasa collects the message instead: NotDelivered), once."""

    def __init__(self, url: str):
        super().__init__(url)
        self.refused = 0

    async def run_action(self, sender_id, action, slots, extra_events=None):
        messages = await super().run_action(sender_id, action, slots, extra_events)
        if not self.refused:
            self.refused += 1
            raise NotDelivered("the telegram channel is not running")
        return messages


def test_a_check_in_written_but_not_delivered_is_sent_again_not_recorded_as_sent(
    sessions, store, fake_rasa
):
    """The undelivered copy is in the conversation: the retry must not take it for a
    delivered one."""
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 17, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    down = ChannelDown(fake_rasa.url)

    run(dispatcher(sessions, store, fake_rasa, clock, down), clock, local(treated, 20, 0))

    assert down.refused == 1
    tries = [s for s, _, key in fake_rasa.checkins_sent() if key == "day0_evening"]
    assert len(tries) == 2  # written twice: once undelivered, once delivered
    row = sent_rows(sessions)["day0_evening"]
    assert row.status == "sent" and row.sent_at >= local(treated, 18, 0) + timedelta(minutes=2)


def test_a_check_in_in_doubt_is_recorded_sent_even_once_its_window_closed(
    sessions, store, fake_rasa
):
    """The dispatcher died right after Rasa wrote the check-in, and the notifier came back
    only after the window closed: the client got it, so it is sent (answers count), not
    skipped."""
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 17, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    dying = DyingConversations(fake_rasa.url, after_action=True)
    with pytest.raises(Died):
        run(dispatcher(sessions, store, fake_rasa, clock, dying), clock, local(treated, 18, 0))

    clock.now = local(treated, 22, 0)
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(treated, 23, 0))

    assert assert_each_sent_once(fake_rasa) == ["day0_evening"]
    row = rows(sessions)["day0_evening"]
    assert (row.status, row.reason) == ("sent", None)


def test_a_check_in_in_doubt_while_a_team_member_has_the_chat_is_not_sent_twice(
    sessions, store, fake_rasa
):
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 17, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    dying = DyingConversations(fake_rasa.url, after_action=True)
    with pytest.raises(Died):
        run(dispatcher(sessions, store, fake_rasa, clock, dying), clock, local(treated, 18, 0))
    handoffs = Handoffs(sessions)
    handoffs.claim(SENDER, None, "Alex")  # the client's reply brought a team member in

    second = dispatcher(sessions, store, fake_rasa, clock)
    run(second, clock, local(treated, 18, 30))
    handoffs.release(SENDER)
    run(second, clock, local(treated, 20, 0))

    assert assert_each_sent_once(fake_rasa) == ["day0_evening"]
    assert rows(sessions)["day0_evening"].status == "sent"


def test_a_team_member_holding_the_chat_delays_a_check_in_until_they_leave(
    sessions, store, fake_rasa
):
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 17, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    handoffs, checkins = Handoffs(sessions), dispatcher(sessions, store, fake_rasa, clock)
    handoffs.claim(SENDER, None, "Alex")

    run(checkins, clock, local(treated, 19, 0))
    assert fake_rasa.checkins_sent() == []
    handoffs.release(SENDER)
    run(checkins, clock, local(treated, 20, 0))

    assert assert_each_sent_once(fake_rasa) == ["day0_evening"]
    row = sent_rows(sessions)["day0_evening"]
    assert row.sent_at == local(treated, 19, 10) and row.late


# --- the bot down over a window -------------------------------------------------------------------


def test_a_bot_down_over_a_window_skips_what_closed_and_sends_late_what_is_still_open(
    sessions, store, fake_rasa
):
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 0, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(treated, 23, 0), coarse=HOUR)
    assert assert_each_sent_once(fake_rasa) == ["day0_evening"]

    # Nothing runs from 23:00 on day 0 to 10:00 on day 3 (day 1's window closed at 12:00,
    # day 3's is open until 13:00); then the notifier starts again.
    clock.now = local(treated + timedelta(days=3), 10, 0)
    restarted = dispatcher(sessions, store, fake_rasa, clock)
    run(restarted, clock, local(treated + timedelta(days=3), 11, 0))
    run(restarted, clock, local(treated + timedelta(days=4), 0), coarse=HOUR)

    assert assert_each_sent_once(fake_rasa) == ["day0_evening", "day3_morning"]
    listed = rows(sessions)
    assert (listed["day1_morning"].status, listed["day1_morning"].reason) == ("skipped", "late")
    assert listed["day1_morning"].sent_at is None
    day3 = listed["day3_morning"]
    assert (day3.status, day3.late) == ("sent", True)
    assert day3.sent_at == local(treated + timedelta(days=3), 10, 10)
    assert not listed["day0_evening"].late


def test_a_dispatcher_paused_over_a_window_skips_it_as_late(sessions, store, fake_rasa):
    """The same dispatcher, stalled (the database away) while day 1's window passed."""
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 0, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    running = dispatcher(sessions, store, fake_rasa, clock)
    run(running, clock, local(treated, 23, 0), coarse=HOUR)
    clock.now = local(treated + timedelta(days=1), 13, 0)
    run(running, clock, local(treated + timedelta(days=1), 14, 0))

    listed = rows(sessions)
    assert (listed["day1_morning"].status, listed["day1_morning"].reason) == ("skipped", "late")
    assert assert_each_sent_once(fake_rasa) == ["day0_evening"]


# --- quiet hours ------------------------------------------------------------------------------


def add_checkin(clinic_dir: Path, key: str, day: int, start: str, end: str) -> None:
    """A check-in added at the end of clinic/checkins.yml, as a clinic would."""
    path = clinic_dir / "checkins.yml"
    path.write_text(
        path.read_text()
        + f"""  {key}:
    day: {day}
    window: {{from: "{start}", to: "{end}"}}
    text: "Hi {{name}}, {key}."
    quick_replies: [fine]
"""
    )


def test_a_check_in_whose_window_opens_in_quiet_hours_is_sent_when_they_end(
    sessions, store, fake_rasa, clinic_dir
):
    add_checkin(clinic_dir, "day2_early", 2, "06:30", "10:00")  # quiet until 08:00
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 0, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    day2 = treated + timedelta(days=2)

    running = dispatcher(sessions, store, fake_rasa, clock)
    run(running, clock, local(day2, 0, 0), coarse=HOUR)
    run(running, clock, local(day2 + timedelta(days=1), 0, 0), [day2])

    sent = assert_each_sent_once(fake_rasa)
    assert "day2_early" in sent
    early = sent_rows(sessions)["day2_early"]
    assert early.sent_at == local(day2, 8, 0)
    assert not early.late  # on time: the quiet hours are part of the plan


def test_a_retry_that_falls_in_quiet_hours_waits_for_their_end_within_the_window(
    sessions, store, fake_rasa, clinic_dir
):
    """Quiet hours over lunch (12:00-14:00): day 7's check-in (10:00-18:00) cannot be
    delivered until 12:30; it is sent at 14:00, not during lunch."""
    edit(
        clinic_dir / "checkins.yml",
        'quiet_hours: {from: "21:00", to: "08:00"}',
        'quiet_hours: {from: "12:00", to: "14:00"}',
    )
    treated = date(2026, 6, 1)
    day7 = treated + timedelta(days=7)
    clock = Clock(local(day7, 9, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    running = dispatcher(sessions, store, fake_rasa, clock)
    fake_rasa.down = True
    run(running, clock, local(day7, 12, 30), coarse=HALF_HOUR)
    fake_rasa.down = False
    assert fake_rasa.checkins_sent() == []
    assert Checkins(sessions).listing("due")[0].due_at == local(day7, 14, 0)

    run(running, clock, local(day7, 16, 0))

    assert assert_each_sent_once(fake_rasa) == ["day7"]
    row = sent_rows(sessions)["day7"]
    assert row.sent_at == local(day7, 14, 0) and row.late


def test_a_retry_whose_window_closes_in_quiet_hours_is_skipped_not_sent_at_night(
    sessions, store, fake_rasa
):
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 17, 0))
    treat(sessions, store, SENDER, treated, clock.now)
    running = dispatcher(sessions, store, fake_rasa, clock)
    fake_rasa.down = True
    run(running, clock, local(treated, 22, 0), coarse=HALF_HOUR)
    fake_rasa.down = False
    run(running, clock, local(treated + timedelta(days=1), 8, 50), coarse=HOUR)

    assert fake_rasa.checkins_sent() == []
    row = rows(sessions)["day0_evening"]
    assert (row.status, row.reason) == ("skipped", "late")


# --- two dispatchers at once -----------------------------------------------------------------------

# One dispatcher in a process of its own: each line on stdin is the time it is; it cycles once
# and prints how many it sent.
DISPATCHER_PROCESS = r"""
import asyncio, sys
from datetime import datetime
from pathlib import Path
from bot.alerts.checkins import CheckinDispatcher
from bot.alerts.rasa_api import NotDelivered, RasaConversations
from bot.kb.store import ClinicStore
from bot.storage.engine import session_factory

url, clinic_dir, rasa_url = sys.argv[1:4]
now = [None]
dispatcher = CheckinDispatcher(
    session_factory(url), ClinicStore(Path(clinic_dir)), RasaConversations(rasa_url),
    lambda: now[0],
)

async def main():
    for line in sys.stdin:
        now[0] = datetime.fromisoformat(line.strip())
        print(await dispatcher.cycle(), flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # shared by processes
def test_two_dispatcher_processes_on_postgresql_send_each_check_in_once(
    database_url, sessions, store, fake_rasa, clinic_dir, tmp_path
):
    start = local(date(2026, 6, 10), 0, 0)
    clinic = store.current()
    expected = set()
    for ago in (-1, 0, 1, 2, 3, 6, 7, 27, 28):  # check-ins due on 10 or 11 June
        treated = start.date() - timedelta(days=ago)
        for n in range(4):  # four of each: due at the same moment
            sender = f"telegram-{ago}-{n}"
            treat(sessions, store, sender, treated, start)
            for item in plan(clinic.checkins, treated, "medical", "Europe/London", start):
                if item.due_at < start + timedelta(days=2):
                    expected.add((sender, item.key))
    assert len(expected) == 28

    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                DISPATCHER_PROCESS,
                database_url,
                str(clinic_dir),
                fake_rasa.url,
            ],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / f"dispatcher-{i}.log").open("w"),
            text=True,
        )
        for i in range(2)
    ]
    sent_by = [0, 0]
    try:
        for moment in moments(start, start + timedelta(days=2), coarse=HOUR):
            for process in processes:  # both cycle at the same moment, at the same time
                process.stdin.write(moment.isoformat() + "\n")
                process.stdin.flush()
            for i, process in enumerate(processes):
                answer = process.stdout.readline()
                assert answer, (tmp_path / f"dispatcher-{i}.log").read_text()[-3000:]
                sent_by[i] += int(answer)
    finally:
        for process in processes:
            process.stdin.close()
            process.wait(timeout=30)

    sent = [(sender, key) for sender, _, key in fake_rasa.checkins_sent()]
    assert sorted(sent) == sorted(expected)  # each once: none lost, none doubled
    assert sum(sent_by) == len(expected)
    listed = Checkins(sessions).listing("sent")
    assert {(v.sender_id, v.key) for v in listed} == expected


def test_only_one_dispatcher_runs_at_a_time_under_the_checkin_dispatcher_lease(
    sessions, store, fake_rasa
):
    assert LEASE_NAME == "checkin-dispatcher"
    treated = date(2026, 6, 1)
    clock = Clock(local(treated, 18, 5))
    for sender in ("a-1", "a-2", "a-3"):
        treat(sessions, store, sender, treated, local(treated, 0, 0))
    leases, cycles = Leases(sessions), {"a": 0, "b": 0}
    together: list[str] = []
    busy: set[str] = set()

    def counted(owner: str):
        each = dispatcher(sessions, store, fake_rasa, clock)
        real = each.cycle

        async def cycle() -> int:
            busy.add(owner)
            if len(busy) > 1:
                together.append(owner)
            cycles[owner] += 1
            try:
                return await real()
            finally:
                busy.discard(owner)

        each.cycle = cycle
        return lambda: each.run(interval=0.05)

    async def scenario() -> None:
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(run_while_held(leases, LEASE_NAME, counted("a"), stop_a, 1.2, "a"))
        await until(lambda: cycles["a"] > 0)
        b = asyncio.create_task(run_while_held(leases, LEASE_NAME, counted("b"), stop_b, 1.2, "b"))
        await asyncio.sleep(1.0)  # b asked for the lease at least twice
        assert cycles["b"] == 0 and leases.holder(LEASE_NAME) == "a"
        stop_a.set()
        await a
        await until(lambda: cycles["b"] > 0, 3.0)
        assert leases.holder(LEASE_NAME) == "b"
        stop_b.set()
        await b

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert not together
    assert sorted(sender for sender, _, _ in fake_rasa.checkins_sent()) == ["a-1", "a-2", "a-3"]


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)
