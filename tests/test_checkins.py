"""Check-ins (clinic/checkins.yml): the loader locates every mistake; the planner's local time,
quiet hours and treatment kinds; turning check-ins off and on (the client, the clinic, "forget
me"); the clinic editing its check-ins while they are planned; `aftercare checkins list`.

The dispatcher is driven by a test clock against the fake Rasa API (see
tests/test_checkins_dispatch.py for the harness and the long runs)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

import pytest

from bot.domain.checkins import in_quiet_hours, local_moment, plan, quiet_hours_end
from bot.kb.loader import load_clinic
from bot.storage.checkin_plans import plan_all, plan_conversation
from bot.storage.checkins import OPTED_OUT, Checkins, conversation_subject
from bot.storage.clients import ClientRegistry
from bot.storage.treatments import TreatmentRepository
from tests.conftest import edit
from tests.test_checkins_dispatch import (
    DEFAULT_KEYS,
    HOUR,
    SENDER,
    Clock,
    Died,
    DyingConversations,
    assert_each_sent_once,
    dispatcher,
    local,
    rows,
    run,
    sent_rows,
    treat,
    utc,
)
from tests.test_kb_loader import errors_of, line_of

ZONE = "Europe/London"
TREATED = date(2026, 6, 1)  # a Monday, British Summer Time throughout
THREE_HOURS = timedelta(hours=3)  # from midnight: a time inside every window
# Planning and editing are the same on both databases; what the database does (claims,
# opt-outs, the due-table) runs on PostgreSQL too in the other tests.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# --- the loader ----------------------------------------------------------------------------------


def test_the_shipped_check_ins_are_the_five_defaults(clinic):
    """Five for every kind; deep needling's "what is allowed from today" ones come later."""
    settings = clinic.checkins
    assert settings.enabled
    assert [(c.key, c.day, c.start, c.end) for c in settings.items] == [
        ("day0_evening", 0, time(18), time(20, 45)),
        ("day1_morning", 1, time(9), time(12)),
        ("day3_morning", 3, time(9), time(13)),
        ("day3_morning_deep", 3, time(9), time(13)),
        ("day5_morning_deep", 5, time(9), time(13)),
        ("day7", 7, time(10), time(18)),
        ("day9_deep", 9, time(10), time(18)),
        ("day28_book_next", 28, time(10), time(18)),
    ]
    assert (settings.quiet_start, settings.quiet_end) == (time(21), time(8))


def test_a_time_that_is_not_a_time_of_day_is_located(clinic_dir, known_topics):
    path = clinic_dir / "checkins.yml"
    edit(path, 'window: {from: "09:00", to: "12:00"}', 'window: {from: "25:00", to: "12:00"}')
    (error,) = errors_of(clinic_dir, known_topics)
    line = line_of(path, '"25:00"')
    assert error.startswith(f"clinic/checkins.yml:{line}: ")
    assert "'25:00' is not a time of day (HH:MM, 24-hour clock)" in error


def test_quiet_hours_that_are_not_a_time_are_located(clinic_dir, known_topics):
    path = clinic_dir / "checkins.yml"
    edit(
        path, 'quiet_hours: {from: "21:00", to: "08:00"}', 'quiet_hours: {from: "9pm", to: "08:00"}'
    )
    (error,) = errors_of(clinic_dir, known_topics)
    assert error.startswith(f"clinic/checkins.yml:{line_of(path, 'quiet_hours:')}: quiet_hours:")
    assert "'9pm' is not a time of day" in error


def test_a_window_that_ends_before_it_starts_is_located(clinic_dir, known_topics):
    path = clinic_dir / "checkins.yml"
    edit(path, 'window: {from: "09:00", to: "12:00"}', 'window: {from: "12:00", to: "09:00"}')
    (error,) = errors_of(clinic_dir, known_topics)
    line = line_of(path, 'window: {from: "12:00", to: "09:00"}')
    assert error == (
        f"clinic/checkins.yml:{line}: check-in 'day1_morning': the window must end after it"
        " starts (same day)"
    )


def test_an_unknown_treatment_kind_is_located(clinic_dir, known_topics):
    path = clinic_dir / "checkins.yml"
    edit(
        path,
        'kinds: [cosmetic, medical]\n    text: "Hi {name}, one',
        'kinds: [deep, laser]\n    text: "Hi {name}, one',
    )
    (error,) = errors_of(clinic_dir, known_topics)
    assert error == (
        f"clinic/checkins.yml:{line_of(path, 'kinds: [deep, laser]')}: check-in 'day7': unknown"
        " treatment kind(s) laser; known: cosmetic, deep, medical"
    )


def test_an_unknown_placeholder_in_a_check_in_is_located(clinic_dir, known_topics):
    path = clinic_dir / "checkins.yml"
    edit(path, "Hi {name}, one week", "Hi {first_name}, one week")
    (error,) = errors_of(clinic_dir, known_topics)
    line = line_of(path, "{first_name}")
    assert error.startswith(
        f"clinic/checkins.yml:{line}: check-in 'day7': unknown placeholder {{first_name}}"
    )


def test_a_client_placeholder_in_the_bots_replies_is_located(clinic_dir, known_topics):
    """The replies to the buttons know the clinic, not the client: {name} is not there."""
    path = clinic_dir / "checkins.yml"
    edit(path, '  fine: "Great to hear!', '  fine: "Great to hear, {name}!')
    (error,) = errors_of(clinic_dir, known_topics)
    line = line_of(path, "Great to hear, {name}!")
    assert error.startswith(f"clinic/checkins.yml:{line}: fine: unknown placeholder {{name}}")


def test_an_unknown_quick_reply_is_located(clinic_dir, known_topics):
    path = clinic_dir / "checkins.yml"
    edit(path, "quick_replies: [fine, worried, wrong]", "quick_replies: [fine, maybe]")
    (error,) = errors_of(clinic_dir, known_topics)
    line = line_of(path, "[fine, maybe]")
    assert error == (
        f"clinic/checkins.yml:{line}: check-in 'day0_evening': quick reply 'maybe' does not"
        " exist; use fine, worried or wrong"
    )


def test_every_mistake_is_reported_at_once(clinic_dir, known_topics):
    path = clinic_dir / "checkins.yml"
    edit(path, 'window: {from: "09:00", to: "12:00"}', 'window: {from: "12:00", to: "09:00"}')
    edit(path, "Hi {name}, one week", "Hi {first_name}, one week")
    assert len(errors_of(clinic_dir, known_topics)) == 2


@SQLITE_ONLY
def test_a_clinic_folder_without_checkins_yml_loads_with_check_ins_off(
    clinic_dir, known_topics, sessions, store, fake_rasa
):
    (clinic_dir / "checkins.yml").unlink()
    clinic = load_clinic(clinic_dir, known_topics)
    assert not clinic.checkins.enabled and clinic.checkins.items == ()
    assert plan(clinic.checkins, TREATED, "medical", ZONE, local(TREATED, 0)) == []

    clock = Clock(local(TREATED, 0))
    assert treat(sessions, store, SENDER, TREATED, clock.now) == 0
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(TREATED, 23), coarse=HOUR)
    assert fake_rasa.checkins_sent() == [] and rows(sessions) == {}


# --- the planner --------------------------------------------------------------------------------


def test_quiet_hours_span_midnight_and_end_at_the_local_time_across_the_clock_change(clinic):
    settings = clinic.checkins
    assert in_quiet_hours(settings, local(TREATED, 21, 0), ZONE)
    assert in_quiet_hours(settings, local(TREATED, 7, 59), ZONE)
    assert not in_quiet_hours(settings, local(TREATED, 8, 0), ZONE)
    assert not in_quiet_hours(settings, local(TREATED, 20, 59), ZONE)
    # The night the clocks go forward: 22:00 GMT to 08:00 BST is nine hours.
    assert quiet_hours_end(settings, utc(2026, 3, 28, 22, 0), ZONE) == utc(2026, 3, 29, 7, 0)
    # The night they go back: 22:00 BST to 08:00 GMT is eleven.
    assert quiet_hours_end(settings, utc(2026, 10, 24, 21, 0), ZONE) == utc(2026, 10, 25, 8, 0)
    assert quiet_hours_end(settings, local(TREATED, 12, 0), ZONE) == local(TREATED, 12, 0)


def test_a_time_the_clocks_skip_or_repeat_is_read_as_documented():
    skipped = local_moment(date(2026, 3, 29), time(1, 30), ZONE)  # 01:00-02:00 never happens
    assert skipped == utc(2026, 3, 29, 1, 30)  # = 02:30 BST, just after the gap
    repeated = local_moment(date(2026, 10, 25), time(1, 30), ZONE)  # happens twice
    assert repeated == utc(2026, 10, 25, 0, 30)  # the first time (BST)


def test_a_check_in_limited_to_some_kinds_is_planned_for_those_only(clinic_dir, known_topics):
    edit(
        clinic_dir / "checkins.yml",
        'kinds: [cosmetic, medical]\n    text: "Hi {name}, one',
        'kinds: [deep]\n    text: "Hi {name}, one',
    )
    settings = load_clinic(clinic_dir, known_topics).checkins
    now = local(TREATED, 0)
    assert "day7" not in [p.key for p in plan(settings, TREATED, "medical", ZONE, now)]
    assert "day7" in [p.key for p in plan(settings, TREATED, "deep", ZONE, now)]


# --- turning check-ins off and on ---------------------------------------------------------------


def test_a_client_who_turns_check_ins_off_gets_none_until_they_turn_them_on_again(
    sessions, store, fake_rasa
):
    clock = Clock(local(TREATED, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    running = dispatcher(sessions, store, fake_rasa, clock)
    run(running, clock, local(TREATED + timedelta(days=2), 0), coarse=HOUR)
    assert assert_each_sent_once(fake_rasa) == DEFAULT_KEYS[:2]

    checkins = Checkins(sessions)  # /stop, as bot.service.checkins does it
    assert checkins.opt_out(conversation_subject(SENDER), "client", now=clock.now)
    assert checkins.cancel([SENDER], OPTED_OUT) == 3
    assert checkins.opted_out(SENDER) == "client"
    run(running, clock, local(TREATED + timedelta(days=10), 0), coarse=THREE_HOURS)
    assert assert_each_sent_once(fake_rasa) == DEFAULT_KEYS[:2]  # day 3 and 7 not sent
    listed = rows(sessions)
    assert {k: (v.status, v.reason) for k, v in listed.items() if k not in DEFAULT_KEYS[:2]} == {
        "day3_morning": ("skipped", OPTED_OUT),
        "day7": ("skipped", OPTED_OUT),
        "day28_book_next": ("skipped", OPTED_OUT),
    }

    assert checkins.opt_in(conversation_subject(SENDER))  # /start
    assert plan_conversation(sessions, store.current(), SENDER, clock.now) == 1
    run(running, clock, local(TREATED + timedelta(days=29), 0), coarse=THREE_HOURS)

    assert assert_each_sent_once(fake_rasa) == [*DEFAULT_KEYS[:2], "day28_book_next"]
    listed = rows(sessions)
    assert listed["day28_book_next"].status == "sent"
    # What was skipped while they were off stays on record.
    assert (listed["day7"].status, listed["day7"].reason) == ("skipped", OPTED_OUT)


def test_a_check_in_already_claimed_when_the_client_turns_them_off_is_not_sent(
    sessions, store, fake_rasa
):
    clock = Clock(local(TREATED, 18, 0))
    treat(sessions, store, SENDER, TREATED, local(TREATED, 0))
    checkins = Checkins(sessions)
    (claimed,) = checkins.claim_due(clock.now, lease_seconds=60)  # a dispatcher took it
    checkins.opt_out(conversation_subject(SENDER), "client")
    checkins.cancel([SENDER], OPTED_OUT)  # a claimed one is not pending: left to the check
    checkins.postpone(claimed.id, clock.now)  # ... and that dispatcher gave it back

    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(TREATED, 20, 0))

    assert fake_rasa.checkins_sent() == []
    assert rows(sessions)["day0_evening"].reason == OPTED_OUT


CHATS = ("telegram-1", "web-1", "telegram-2")


def test_the_clinic_turning_a_clients_check_ins_off_stops_them_in_every_chat(
    sessions, store, fake_rasa, run_cli
):
    clock = Clock(local(TREATED, 0))
    registry = ClientRegistry(sessions)
    client, code = registry.add("Sam Client", TREATED, "medical", now=clock.now)
    other, other_code = registry.add("Alex Other", TREATED, "medical", now=clock.now)
    assert registry.redeem(code, "telegram-1", "telegram", now=clock.now).linked
    second_code = registry.new_code(client.id, now=clock.now)
    assert registry.redeem(second_code, "web-1", "web", now=clock.now).linked
    assert registry.redeem(other_code, "telegram-2", "telegram", now=clock.now).linked
    # A client with two chats gets each check-in once: in their Telegram chat.
    planned = {c: plan_conversation(sessions, store.current(), c, clock.now) for c in CHATS}
    assert planned == {"telegram-1": 5, "web-1": 0, "telegram-2": 5}

    code_, out, err = run_cli("clients", "checkins", str(client.id), "off")

    assert (code_, err) == (0, "")
    assert out == f"Check-ins are off for client #{client.id} (5 planned one(s) skipped).\n"
    for chat in ("telegram-1", "web-1"):
        assert Checkins(sessions).opted_out(chat) == "clinic"
    assert {v.reason for v in rows(sessions, "telegram-1").values()} == {OPTED_OUT}
    # Planning again (a clinic edit, a restart) plans none for them.
    assert plan_all(sessions, store.current(), clock.now) == 5
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(TREATED, 23), coarse=HOUR)
    assert [s for s, _, _ in fake_rasa.checkins_sent()] == ["telegram-2"]

    assert run_cli("clients", "checkins", str(client.id), "on")[0] == 0
    assert Checkins(sessions).opted_out("telegram-1") is None
    assert run_cli("clients", "checkins", "999", "off")[0] == 1


@SQLITE_ONLY
def test_the_clinic_turning_check_ins_back_on_plans_what_is_still_ahead(sessions, store, run_cli):
    """`on` plans from the real clock: a treatment one day ago has day 3, 7 and 28 ahead."""
    treated = datetime.now(timezone.utc).date() - timedelta(days=1)
    registry = ClientRegistry(sessions)
    client, code = registry.add("Sam Client", treated, "medical")
    registry.redeem(code, "telegram-1", "telegram")
    run_cli("clients", "checkins", str(client.id), "off")

    code_, out, _ = run_cli("clients", "checkins", str(client.id), "on")

    assert code_ == 0
    pending = [v.key for v in Checkins(sessions).listing("due", sender_id="telegram-1")]
    assert pending[-3:] == ["day3_morning", "day7", "day28_book_next"]
    assert out == f"Check-ins are on for client #{client.id} ({len(pending)} planned).\n"


def test_forgetting_a_conversation_removes_its_check_ins_and_none_is_sent(
    sessions, store, fake_rasa
):
    clock = Clock(local(TREATED, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    treat(sessions, store, "web-9", TREATED, clock.now)
    Checkins(sessions).opt_out(conversation_subject(SENDER), "client")

    assert Checkins(sessions).forget(SENDER) == 5
    TreatmentRepository(sessions).forget(SENDER)  # "forget me" deletes the treatment too
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(TREATED, 23), coarse=HOUR)

    assert rows(sessions) == {}
    assert Checkins(sessions).opted_out(SENDER) is None  # its opt-out is gone with it
    assert [s for s, _, _ in fake_rasa.checkins_sent()] == ["web-9"]


# --- the clinic edits its check-ins -------------------------------------------------------------


@SQLITE_ONLY
def test_moving_a_check_in_re_plans_it_on_the_next_cycle(sessions, store, fake_rasa, clinic_dir):
    clock = Clock(local(TREATED, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    running = dispatcher(sessions, store, fake_rasa, clock)
    run(running, clock, local(TREATED, 23), coarse=HOUR)
    day1 = TREATED + timedelta(days=1)
    assert rows(sessions)["day1_morning"].due_at == local(day1, 9, 0)

    path = clinic_dir / "checkins.yml"
    edit(path, 'window: {from: "09:00", to: "12:00"}', 'window: {from: "10:00", to: "12:00"}')
    run(running, clock, local(day1, 0, 0), coarse=HOUR)
    assert rows(sessions)["day1_morning"].due_at == local(day1, 10, 0)  # without a restart
    run(running, clock, local(day1, 12, 0))

    assert sent_rows(sessions)["day1_morning"].sent_at == local(day1, 10, 0)
    assert assert_each_sent_once(fake_rasa) == DEFAULT_KEYS[:2]


@SQLITE_ONLY
def test_removing_a_check_in_withdraws_it_and_adding_one_plans_it(
    sessions, store, fake_rasa, clinic_dir
):
    clock = Clock(local(TREATED, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    running = dispatcher(sessions, store, fake_rasa, clock)
    run(running, clock, local(TREATED, 23), coarse=HOUR)

    path = clinic_dir / "checkins.yml"
    text = path.read_text()
    start, end = text.index("  day7:\n"), text.index("  day28_book_next:\n")
    added = '  day5:\n    day: 5\n    window: {from: "11:00", to: "13:00"}\n    text: "Day 5!"\n'
    path.write_text(text[:start] + added + text[end:])
    run(running, clock, local(TREATED + timedelta(days=29), 0), coarse=THREE_HOURS)

    sent = assert_each_sent_once(fake_rasa)
    assert sent == ["day0_evening", "day1_morning", "day3_morning", "day5", "day28_book_next"]
    day7 = rows(sessions).get("day7")
    assert day7 is None or (day7.status, day7.reason) == ("skipped", "withdrawn")


@SQLITE_ONLY
def test_a_check_in_in_doubt_that_the_clinic_removed_meanwhile_is_skipped_as_withdrawn(
    sessions, store, fake_rasa, clinic_dir
):
    clock = Clock(local(TREATED, 17, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    dying = dispatcher(
        sessions, store, fake_rasa, clock, DyingConversations(fake_rasa.url, after_action=False)
    )
    with pytest.raises(Died):
        run(dying, clock, local(TREATED, 18, 0))
    edit(clinic_dir / "checkins.yml", "  day0_evening:\n", "  day0_later:\n")

    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(TREATED, 20, 0))

    row = rows(sessions)["day0_evening"]
    assert (row.status, row.reason) == ("skipped", "withdrawn")
    assert "day0_evening" not in assert_each_sent_once(fake_rasa)


@SQLITE_ONLY
def test_turning_all_check_ins_off_sends_none(sessions, store, fake_rasa, clinic_dir):
    clock = Clock(local(TREATED, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    edit(clinic_dir / "checkins.yml", "enabled: true", "enabled: false")
    run(
        dispatcher(sessions, store, fake_rasa, clock),
        clock,
        local(TREATED + timedelta(days=8), 0),
        coarse=THREE_HOURS,
    )
    assert fake_rasa.checkins_sent() == []
    assert Checkins(sessions).listing("due") == []


# --- aftercare checkins list ----------------------------------------------------------------------


def test_checkins_list_shows_what_is_due_and_what_was_sent(sessions, store, fake_rasa, run_cli):
    clock = Clock(local(TREATED, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    treat(sessions, store, "web-2", TREATED + timedelta(days=1), clock.now)
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(TREATED, 23), coarse=HOUR)

    code, out, err = run_cli("checkins", "list", "--sent", "--json")
    assert (code, err) == (0, "")
    (sent,) = json.loads(out)
    assert sent == {
        "id": sent["id"],
        "conversation_id": SENDER,
        "checkin": "day0_evening",
        "day": 0,
        "due_at": local(TREATED, 18, 0).isoformat(),
        "until": local(TREATED, 20, 45).isoformat(),
        "status": "sent",
        "reason": None,
        "sent_at": local(TREATED, 18, 0).isoformat(),
        "late": False,
        "answer": None,
        "escalated": False,
    }

    code, out, _ = run_cli("checkins", "list", "--due", "--json")
    due = json.loads(out)
    assert code == 0
    assert [(d["conversation_id"], d["checkin"]) for d in due][:3] == [
        (SENDER, "day1_morning"),
        ("web-2", "day0_evening"),
        ("web-2", "day1_morning"),
    ]
    assert len(due) == 9 and {d["status"] for d in due} == {"pending"}
    assert [d["due_at"] for d in due] == sorted(d["due_at"] for d in due)

    code, out, _ = run_cli("checkins", "list")
    assert code == 0 and len(out.splitlines()) == 10
    assert "day0_evening" in out and "2026-06-01 18:00" in out  # local time


@SQLITE_ONLY
def test_checkins_list_shows_a_check_in_skipped_while_the_bot_was_down(
    sessions, store, fake_rasa, run_cli
):
    clock = Clock(local(TREATED, 0))
    treat(sessions, store, SENDER, TREATED, clock.now)
    clock.now = local(TREATED, 22)  # nothing ran over day 0's window
    run(dispatcher(sessions, store, fake_rasa, clock), clock, local(TREATED, 23))

    code, out, _ = run_cli("checkins", "list", "--json")
    listed = {d["checkin"]: d for d in json.loads(out)}
    assert code == 0
    assert (listed["day0_evening"]["status"], listed["day0_evening"]["reason"]) == (
        "skipped",
        "late",
    )
    code, out, _ = run_cli("checkins", "list", "--sent")
    assert (code, out) == (0, "No check-ins sent.\n")


def test_every_shipped_check_in_says_what_changes_today_for_each_kind_it_goes_to(clinic):
    """A deeper treatment opens activities later: its own check-ins say so, never an empty
    "From today:" (nor retinoids on day 7, which the knowledge base allows deep clients only
    from day 9)."""
    from bot.domain.advisor import Advisor
    from bot.domain.checkins import checkin_text

    said = {}
    for kind in clinic.kb.kinds:
        keys = [c.key for c in clinic.checkins.items if c.applies_to(kind)]
        assert len(keys) == (6 if kind == "deep" else 5), (kind, keys)
        for item in clinic.checkins.items:
            if item.applies_to(kind) and "{changes_today}" in item.text:
                assert Advisor(clinic).newly_allowed(item.day, kind), (kind, item.key)
                said[(kind, item.key)] = checkin_text(clinic, item, "Ann", date(2026, 1, 5), kind)
    assert "retinol" in said[("medical", "day7")] and "retinol" in said[("deep", "day9_deep")]
    assert not any(k == ("deep", "day7") for k in said)


def test_a_window_wholly_in_the_quiet_hours_is_refused_with_its_line(clinic_dir, known_topics):
    """It could never be sent: `kb check` says so rather than the check-in silently never
    going out."""
    path = clinic_dir / "checkins.yml"
    edit(path, 'window: {from: "09:00", to: "12:00"}', 'window: {from: "21:30", to: "23:30"}')
    (error,) = errors_of(clinic_dir, known_topics)
    line = line_of(path, 'from: "21:30"')
    assert error == (
        f"clinic/checkins.yml:{line}: check-in 'day1_morning': its whole window is in the"
        " quiet hours, so it would never be sent"
    )
