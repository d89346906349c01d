"""Check-ins in the staff inbox (issue 16, "Visibility"): the transcript marks a sent check-in
and shows a quick reply by the clinic's title, the side panel lists the conversation's
check-ins, and the Overview gives the share answered and the share that led to an escalation.
Every row here is a real row of the due-table, planned, claimed and sent through `Checkins`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from html import unescape

import pytest

from bot.domain.checkins import Planned
from bot.inbox.checkins import CHECKIN_LABEL_KEYS, checkin_chart, period_start
from bot.inbox.views import CheckinMarks, conversation_key, transcript
from bot.storage.checkins import Checkins, client_subject, conversation_subject
from bot.storage.clients import ClientRegistry
from bot.storage.engine import get_engine, session_factory
from tests import test_inbox

# The inbox on loopback beside a fake of Rasa's API, with staff Mia and Sam (tests/test_inbox.py).
inbox, rasa, log_in = test_inbox.inbox, test_inbox.rasa, test_inbox.log_in
SENDER = test_inbox.SENDER
SVG = "{http://www.w3.org/2000/svg}"
LABELS = {key: f"«{key}»" for key in CHECKIN_LABEL_KEYS} | {
    "no_data": "«no_data»",
    "checkins_summary": "«{sent} {answered} {escalated} {answered_share} {escalated_share} {days}»",
    "checkins_none": "«none in {days}»",
    "checkins_bar": "«{name} {count}/{sent} {share}»",
    "percent": "«{share}»",
}


def checkins_of(desk_or_url) -> Checkins:
    if isinstance(desk_or_url, str):
        get_engine(desk_or_url)
        return Checkins(session_factory(desk_or_url))
    return desk_or_url.checkins


def send(checkins: Checkins, sender: str, treatment: date, items: list[tuple[str, int, datetime]]):
    """Plan these (key, day, due) check-ins for the conversation, then claim and send every one
    due by the last of them (sent at its due time); their row ids by key."""
    planned = [Planned(key, day, due, due + timedelta(hours=3)) for key, day, due in items]
    first = min(due for _, _, due in items)
    checkins.plan(sender, treatment, planned, first - timedelta(hours=1))
    for due in checkins.claim_due(max(due for _, _, due in items), 60, limit=100):
        assert checkins.mark_sent(due.id, due.due_at, late=False)
    return {v.key: v.id for v in checkins.listing(sender_id=sender)}


def panel_of(page: str) -> str:
    """The text of the side panel's check-in section."""
    section = re.search(r'<section class="checkins".*?</section>', page, re.S).group(0)
    return " ".join(unescape(re.sub(r"<[^>]+>", "", section)).split())


# --- the transcript ------------------------------------------------------------------------


def test_the_transcript_marks_a_sent_checkin_and_shows_a_quick_replys_title(inbox, rasa):
    sent = datetime.now(timezone.utc) - timedelta(hours=2)
    rows = send(inbox.checkins, SENDER, date.today(), [("day3_morning", 3, sent)])
    text = "Hi Ana, day 3! How is it looking?"
    metadata = {"response_key": "checkin.day3_morning", "checkin": rows["day3_morning"]}
    rasa.add_event(SENDER, {"event": "bot", "text": text, "metadata": metadata})
    rasa.add_event(SENDER, {"event": "user", "text": "/checkin_wrong", "metadata": {}})
    answer = {"response_key": "checkin.answer_wrong"}
    rasa.add_event(SENDER, {"event": "bot", "text": "I'm sorry.", "metadata": answer})
    browser = log_in(inbox, "Sam")
    key = conversation_key(SENDER)
    for path in (f"/c/{key}", f"/c/{key}?fragment=1"):  # the page, and its live refresh
        page = browser.get(path).text
        checkin = re.search(r'<li class="line bot checkin">.*?</li>', page, re.S).group(0)
        assert "Check-in · day 3" in checkin and text in checkin
        reply = re.search(r'<li class="line client quick-reply">.*?</li>', page, re.S).group(0)
        assert "quick reply" in reply and "Something&#39;s wrong" in reply
        assert "/checkin_wrong" not in page
        assert page.count("Check-in ·") == 1  # the bot's answer to the button is no check-in


def test_a_widget_quick_reply_shows_the_clinics_title_not_the_one_the_browser_sent(clinic):
    events = [
        {"event": "user", "text": "/checkin_fine", "timestamp": 1, "metadata": {"web": {}}},
        {
            "event": "user",
            "text": "/checkin_wrong",
            "timestamp": 2,
            "metadata": {"web": {"title": "All good 👍"}},  # a forged title
        },
        {"event": "user", "text": "/affirm", "timestamp": 3, "metadata": {"web": {"title": "Yes"}}},
        {"event": "user", "text": "checkin_wrong", "timestamp": 4},  # typed words, no button
    ]
    lines = transcript(events, [], marks=CheckinMarks.of([], clinic.checkins))
    assert [(line.text, line.mark) for line in lines] == [
        ("All good 👍", "quick_reply"),
        ("Something's wrong", "quick_reply"),
        ("Yes", ""),
        ("checkin_wrong", ""),
    ]


def test_a_checkins_day_comes_from_its_row_else_from_the_clinics_checkin(clinic, database_url):
    checkins = checkins_of(database_url)
    due = datetime(2026, 7, 13, 9, tzinfo=timezone.utc)
    rows = send(checkins, SENDER, date(2026, 7, 5), [("day7", 8, due)])  # moved to day 8 since

    def bot(row, key: str) -> dict:
        return {"event": "bot", "text": "hi", "metadata": {"response_key": key, "checkin": row}}

    events = [
        bot(rows["day7"] + 100, "checkin.day1_morning"),  # no row: the clinic's check-in, day 1
        bot(rows["day7"], "checkin.day7"),  # its row says day 8 (the clinic says 7)
        bot(rows["day7"] + 101, "checkin.retired"),  # neither knows it: a check-in, day unknown
        bot(None, "checkin.answer_fine"),  # the bot's answer to a quick reply: no check-in
        {"event": "bot", "text": "hi", "metadata": {"checkin": rows["day7"]}},  # no key: its row
    ]
    marks = CheckinMarks.of(checkins.listing(sender_id=SENDER), clinic.checkins)
    lines = transcript(events, [], marks=marks)
    assert [(line.mark, line.day) for line in lines] == [
        ("checkin", 1),
        ("checkin", 8),
        ("checkin", None),
        ("", None),
        ("checkin", 8),
    ]


# --- the side panel ------------------------------------------------------------------------


def test_the_side_panel_lists_sent_checkins_with_their_answers_and_the_next_one(inbox):
    checkins = inbox.checkins
    # Treatment on Monday 6 July 2026: London is on summer time (UTC+1).
    treatment = date(2026, 7, 6)
    sent = [
        ("day0_evening", 0, datetime(2026, 7, 6, 17, tzinfo=timezone.utc)),
        ("day1_morning", 1, datetime(2026, 7, 7, 8, tzinfo=timezone.utc)),
        ("day3_morning", 3, datetime(2026, 7, 9, 8, tzinfo=timezone.utc)),
        ("day4_extra", 4, datetime(2026, 7, 10, 8, tzinfo=timezone.utc)),
    ]
    rows = send(checkins, SENDER, treatment, sent)
    later = [
        Planned(
            "day7",
            7,
            datetime(2026, 7, 13, 9, tzinfo=timezone.utc),
            datetime(2026, 7, 13, 17, tzinfo=timezone.utc),
        ),
        Planned(
            "day28_book_next",
            28,
            datetime(2026, 8, 3, 9, tzinfo=timezone.utc),
            datetime(2026, 8, 3, 17, tzinfo=timezone.utc),
        ),
    ]
    checkins.plan(SENDER, treatment, later, datetime(2026, 7, 10, 9, tzinfo=timezone.utc))
    checkins.record_answer(rows["day0_evening"], "fine", False, sent[0][2] + timedelta(hours=1))
    checkins.record_answer(rows["day3_morning"], "wrong", True, sent[2][2] + timedelta(hours=1))
    checkins.close_unanswered(datetime(2026, 7, 9, 8, 30, tzinfo=timezone.utc), 24)  # day 1
    panel = panel_of(log_in(inbox, "Sam").get(f"/c/{conversation_key(SENDER)}").text)
    assert panel == (
        "Check-ins"
        " Day 0 · sent Mon 06 Jul 18:00 BST: All good"
        " Day 1 · sent Tue 07 Jul 09:00 BST: no answer"
        " Day 3 · sent Thu 09 Jul 09:00 BST: Something's wrong · led to an escalation"
        " Day 4 · sent Fri 10 Jul 09:00 BST: no answer yet"
        " Next: Day 7 · Mon 13 Jul 10:00 BST"  # the soonest due, on the clinic's clock
    )


def test_the_side_panel_says_who_turned_checkins_off_and_shows_no_next_one(inbox):
    treatment = date(2026, 7, 6)
    due = datetime(2026, 7, 6, 17, tzinfo=timezone.utc)
    send(inbox.checkins, SENDER, treatment, [("day0_evening", 0, due)])
    later = Planned("day7", 7, due + timedelta(days=7), due + timedelta(days=7, hours=3))
    inbox.checkins.plan(SENDER, treatment, [later], due)
    browser = log_in(inbox, "Sam")
    before = panel_of(browser.get(f"/c/{conversation_key(SENDER)}").text)
    assert "Next: Day 7" in before and "off" not in before
    # The client sent /stop: turned off, the pending one skipped (as bot.service does).
    inbox.checkins.opt_out(conversation_subject(SENDER), "client")
    inbox.checkins.cancel([SENDER], "opted_out")
    after = panel_of(browser.get(f"/c/{conversation_key(SENDER)}").text)
    assert (
        after
        == "Check-ins Check-ins off (by the client) Day 0 · sent Mon 06 Jul 18:00 BST: no answer yet"
    )

    # The clinic turned a registered client's check-ins off (aftercare clients checkins N off);
    # a pending one the dispatcher will skip is not shown as next.
    registry = ClientRegistry(inbox.accounts._sessions)
    client, code = registry.add("Bea", treatment, "medical")
    registry.redeem(code, "telegram-777", "telegram")
    inbox.checkins.plan("telegram-777", treatment, [later], due)
    inbox.checkins.opt_out(client_subject(client.id), "clinic")
    panel = panel_of(browser.get(f"/c/{conversation_key('telegram-777')}").text)
    assert panel == "Check-ins Check-ins off (by the clinic)"


def test_a_conversation_without_checkins_says_none_are_planned(inbox):
    panel = panel_of(log_in(inbox, "Sam").get(f"/c/{conversation_key(SENDER)}").text)
    assert panel.startswith("Check-ins None planned")


# --- the Overview --------------------------------------------------------------------------


def test_the_overview_gives_the_shares_of_the_checkins_sent_in_its_period(inbox):
    checkins, now = inbox.checkins, datetime.now(timezone.utc)
    days_ago = [now - timedelta(days=n, hours=1) for n in (4, 3, 2, 1)]
    rows = send(checkins, SENDER, date.today(), [(f"c{n}", n, at) for n, at in enumerate(days_ago)])
    checkins.record_answer(rows["c0"], "fine", False, days_ago[0] + timedelta(minutes=5))
    checkins.record_answer(rows["c1"], "wrong", True, days_ago[1] + timedelta(minutes=5))
    checkins.record_answer(rows["c2"], "text", False, days_ago[2] + timedelta(minutes=5))
    checkins.close_unanswered(now, 12)  # c3: nobody answered
    old = now - timedelta(days=20)  # before the period: not counted
    old_rows = send(checkins, "telegram-old", date.today(), [("old", 0, old)])
    checkins.record_answer(old_rows["old"], "fine", False, old + timedelta(minutes=5))
    checkins.plan(
        "telegram-next",
        date.today(),
        [Planned("next", 9, now + timedelta(days=1), now + timedelta(days=2))],
        now,
    )

    page = unescape(log_in(inbox, "Sam").get("/overview").text)
    assert "4 check-ins sent in the last 14 days: 75% answered, 25% led to an escalation." in page
    assert "Answered: 3 of 4 (75%)" in page and "Led to an escalation: 1 of 4 (25%)" in page
    assert "<td>Sent</td><td>4</td>" in page


def test_the_overview_says_when_no_checkin_was_sent(inbox):
    page = log_in(inbox, "Sam").get("/overview")
    assert page.status_code == 200
    assert "No check-ins sent in the last 14 days." in page.text


def test_the_period_starts_at_local_midnight_and_shares_count_from_it(database_url):
    checkins = checkins_of(database_url)
    now = datetime(2026, 7, 10, 12, tzinfo=timezone.utc)  # 13:00 in London (UTC+1)
    since = period_start(now, "Europe/London", 14)
    assert since == datetime(2026, 6, 26, 23, tzinfo=timezone.utc)  # 27 June, 00:00 BST
    inside = datetime(2026, 6, 26, 23, 30, tzinfo=timezone.utc)  # 00:30 on 27 June
    outside = datetime(2026, 6, 26, 22, 30, tzinfo=timezone.utc)  # 23:30 on 26 June
    send(checkins, "telegram-1", date(2026, 6, 26), [("a", 0, outside), ("b", 1, inside)])
    assert checkins.shares(since) == (1, 0, 0)


# --- the Overview's chart ------------------------------------------------------------------


def test_the_checkin_chart_gives_the_shares_of_a_known_set():
    chart = checkin_chart((4, 3, 1), 14, LABELS)
    assert chart.key == "checkins" and chart.summary == "«4 3 1 75 25 14»"
    assert chart.headers == ("«checkins_title»", "«checkins_count»", "«checkins_share»")
    assert chart.rows == (
        ("«checkins_sent»", "4", ""),
        ("«checkins_answered»", "3", "«75»"),
        ("«checkins_escalated»", "1", "«25»"),
    )
    root = ET.fromstring(chart.svg)
    assert root.get("role") == "img" and root.get("width") == "100%"
    assert root.find(f"{SVG}desc").text == chart.summary
    track, *_ = (r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-track")
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]
    widths = [float(b.get("width")) / float(track.get("width")) for b in bars]
    assert widths == pytest.approx([0.75, 0.25], abs=0.001)
    captions = [t.text for t in root.iter(f"{SVG}text")]
    assert captions == ["««checkins_answered» 3/4 75»", "««checkins_escalated» 1/4 25»"]


def test_shares_are_rounded_to_whole_percent():
    chart = checkin_chart((3, 2, 0), 7, LABELS)
    assert chart.summary == "«3 2 0 67 0 7»"
    assert [row[2] for row in chart.rows] == ["", "«67»", "«0»"]


def test_no_checkin_sent_is_said_and_divides_nothing():
    chart = checkin_chart((0, 0, 0), 14, LABELS)
    assert chart.summary == "«none in 14»" and chart.rows == ()
    root = ET.fromstring(chart.svg)
    assert [t.text for t in root.iter(f"{SVG}text")] == ["«no_data»"]


def test_every_word_of_the_checkin_chart_comes_from_labels_and_is_documented():
    import bot.inbox.checkins as module

    for chart in (checkin_chart((5, 2, 1), 14, LABELS), checkin_chart((0, 0, 0), 14, LABELS)):
        root = ET.fromstring(chart.svg)
        texts = [
            e.text or ""
            for e in root.iter()
            if e.tag in {f"{SVG}text", f"{SVG}title", f"{SVG}desc"}
        ]
        texts += [cell for row in (chart.headers, *chart.rows) for cell in row]
        for text in texts:
            leftover = text
            while re.search("«[^«»]*»", leftover):
                leftover = re.sub("«[^«»]*»", "", leftover)
            assert re.fullmatch(r"[\d\s]*", leftover), text
    for key in CHECKIN_LABEL_KEYS:
        assert key in (module.__doc__ or "")
