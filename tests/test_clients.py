"""The client registry and its single-use link codes, and the `aftercare clients` commands."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event, select

from bot.channels.control import (
    CLOCK_SKEW_SECONDS,
    REQUEST_SECONDS,
    forget_client,
    registration,
    sign,
    signed_request,
    verified_request,
)
from bot.channels.links import bot_username, deep_link, qr_code, write_qr_png
from bot.domain.days import local_today, now_utc
from bot.kb.loader import load_clinic
from bot.storage.clients import (
    CODE_PATTERN,
    ClientLinkRow,
    ClientRegistry,
    LinkCodeRow,
    hash_code,
    new_code_text,
)
from bot.storage.engine import get_engine, session_factory
from bot.storage.heartbeats import NOTIFIER, Heartbeats
from bot.storage.models import Base, Conversation
from bot.storage.treatments import TreatmentRepository
from tests.conftest import NOW, edit
from tests.fakes.telegram_api import BOT_USERNAME

TREATED = date(2026, 11, 18)  # day 3 at NOW
# What Telegram accepts as a /start parameter: up to 64 of A-Z, a-z, 0-9, _ and -.
TELEGRAM_START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@pytest.fixture
def sessions(settings):
    return session_factory(settings.database_url)


@pytest.fixture
def registry(sessions) -> ClientRegistry:
    return ClientRegistry(sessions)


def add_client(registry: ClientRegistry, **changes):
    values = {
        "name": "J. Smith",
        "treatment_date": TREATED,
        "kind": "medical",
        "area": "face",
        "now": NOW,
    }
    return registry.add(**{**values, **changes})


# --- redeeming codes ---------------------------------------------------------------------------


def test_redeeming_a_fresh_code_links_the_conversation_and_sets_its_treatment(registry, sessions):
    client, code = add_client(registry)

    result = registry.redeem(code, "tg-1001", "telegram", now=NOW)

    assert result.status == "linked" and result.linked
    assert result.client == client
    assert (client.name, client.treatment_date, client.kind, client.area) == (
        "J. Smith",
        TREATED,
        "medical",
        "face",
    )
    treatment = TreatmentRepository(sessions).get("tg-1001")
    assert (treatment.treatment_date, treatment.kind) == (TREATED, "medical")
    with sessions() as session:
        assert session.get(Conversation, "tg-1001").date_source == "clinic"
    assert registry.client_for("tg-1001") == client


def test_redeeming_replaces_a_date_the_client_told_the_bot(registry, sessions):
    TreatmentRepository(sessions).set_date("tg-1001", date(2026, 11, 1), kind="cosmetic")
    _, code = add_client(registry, kind="deep")

    assert registry.redeem(code, "tg-1001", "telegram", now=NOW).status == "linked"

    treatment = TreatmentRepository(sessions).get("tg-1001")
    assert (treatment.treatment_date, treatment.kind) == (TREATED, "deep")


def test_a_used_code_does_not_link_another_conversation(registry, sessions):
    _, code = add_client(registry)
    registry.redeem(code, "tg-1001", "telegram", now=NOW)

    result = registry.redeem(code, "tg-2002", "telegram", now=NOW + timedelta(minutes=1))

    assert result.status == "used" and result.client is None
    assert registry.client_for("tg-2002") is None
    assert TreatmentRepository(sessions).get("tg-2002") is None


def test_the_same_conversation_opening_its_link_again_stays_linked(registry):
    client, code = add_client(registry)
    registry.redeem(code, "tg-1001", "telegram", now=NOW)

    again = registry.redeem(code, "tg-1001", "telegram", now=NOW + timedelta(hours=1))

    assert again.status == "linked" and again.client == client
    assert registry.client_for("tg-1001") == client


def test_an_expired_code_is_refused(registry):
    _, code = add_client(registry, valid_for=timedelta(days=2))

    result = registry.redeem(code, "tg-1001", "telegram", now=NOW + timedelta(days=2))

    assert result.status == "expired" and result.client is None
    assert registry.client_for("tg-1001") is None


def test_a_code_works_until_just_before_it_expires(registry):
    _, code = add_client(registry, valid_for=timedelta(days=2))

    result = registry.redeem(code, "tg-1001", "telegram", now=NOW + timedelta(days=2, seconds=-1))

    assert result.status == "linked"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "x" * 65,
        "with spaces in the code!",
        "ÄÖÜäöüßÄÖÜäöüßÄÖÜ",
        "'; DROP TABLE clients; --",
        "../../../../etc/passwd",
    ],
)
def test_malformed_codes_are_unknown_without_touching_the_database(registry, settings, garbage):
    add_client(registry)
    statements = []
    engine = get_engine(settings.database_url)

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = registry.redeem(garbage, "tg-1001", "telegram", now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert result.status == "unknown" and result.client is None
    assert statements == []


def test_wrong_codes_are_unknown(registry):
    _, code = add_client(registry)
    one_off = code[:-1] + ("A" if code[-1] != "A" else "B")

    for wrong in (one_off, new_code_text(), code.upper() if code != code.upper() else code + "x"):
        assert registry.redeem(wrong, "tg-1001", "telegram", now=NOW).status == "unknown"
    assert registry.client_for("tg-1001") is None
    assert registry.redeem(code, "tg-1001", "telegram", now=NOW).status == "linked"


def test_a_new_code_revokes_the_unused_one(registry):
    client, old = add_client(registry)

    new = registry.new_code(client.id, timedelta(days=7), now=NOW + timedelta(hours=1))

    assert new != old
    assert registry.redeem(old, "tg-1001", "telegram", now=NOW + timedelta(hours=2)).status == (
        "expired"
    )
    assert registry.redeem(new, "tg-1001", "telegram", now=NOW + timedelta(hours=2)).status == (
        "linked"
    )


def test_a_new_code_lets_the_client_link_a_second_chat(registry):
    client, first = add_client(registry)
    registry.redeem(first, "tg-1001", "telegram", now=NOW)

    second = registry.new_code(client.id, timedelta(days=7), now=NOW)

    # The used code stays used (it is not revoked), and the old chat keeps its link.
    assert registry.redeem(first, "tg-1001", "telegram", now=NOW).status == "linked"
    assert registry.redeem(second, "web-abc", "web", now=NOW).status == "linked"
    (summary,) = registry.list("Europe/London", now=NOW)
    assert summary.conversations == [("tg-1001", "telegram"), ("web-abc", "web")]


def test_a_new_code_for_an_unknown_client_is_refused(registry):
    with pytest.raises(KeyError, match="no client #42"):
        registry.new_code(42, timedelta(days=1), now=NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "name must not be empty"),
        ({"name": "x" * 129}, "name is too long"),
        ({"kind": ""}, "kind must not be empty"),
        ({"valid_for": timedelta(0)}, "positive time"),
    ],
)
def test_adding_an_invalid_client_is_refused(registry, changes, message):
    with pytest.raises(ValueError, match=message):
        add_client(registry, **changes)
    assert registry.list("Europe/London", now=NOW) == []


def test_only_the_hash_of_a_code_is_stored(registry, settings, tmp_path):
    client, first = add_client(registry)
    registry.redeem(first, "tg-1001", "telegram", now=NOW)
    second = registry.new_code(client.id, timedelta(days=7), now=NOW)
    third = registry.new_code(client.id, timedelta(days=7), now=NOW)

    stored = []
    with get_engine(settings.database_url).connect() as connection:
        for table in Base.metadata.sorted_tables:
            stored += [repr(tuple(row)) for row in connection.execute(table.select())]
    text = "\n".join(stored)
    for code in (first, second, third):
        assert code not in text
        assert hash_code(code) in text
    if settings.database_url.startswith("sqlite"):
        raw = b"".join(path.read_bytes() for path in tmp_path.glob("aftercare.db*"))
        assert raw and not any(code.encode() in raw for code in (first, second, third))


def test_codes_are_unique_unguessable_and_valid_telegram_start_parameters(registry):
    drawn = [new_code_text() for _ in range(20000)]
    client, code = add_client(registry)
    drawn += [code] + [registry.new_code(client.id, timedelta(days=1), now=NOW) for _ in range(50)]

    assert len(set(drawn)) == len(drawn)
    for code in drawn:
        assert len(code) == 24  # 18 random bytes = 144 bits
        assert CODE_PATTERN.match(code) and TELEGRAM_START_PARAMETER.match(code)
    # Every one of the 64 characters turns up: the codes use the whole alphabet.
    assert len(set("".join(drawn))) == 64


def test_two_conversations_racing_for_one_code_link_exactly_one(registry, sessions):
    client, code = add_client(registry)
    racers = 8
    barrier = threading.Barrier(racers)
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def race(conversation: str) -> None:
        try:
            barrier.wait()
            results[conversation] = registry.redeem(code, conversation, "telegram", now=NOW).status
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"tg-{n}",)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    winners = [c for c, status in results.items() if status == "linked"]
    assert len(winners) == 1
    assert sorted(results.values()) == ["linked"] + ["used"] * (racers - 1)
    with sessions() as session:
        links = session.execute(select(ClientLinkRow)).scalars().all()
        code_row = session.execute(select(LinkCodeRow)).scalar_one()
    assert [(link.conversation_id, link.client_id) for link in links] == [(winners[0], client.id)]
    assert code_row.used_by == winners[0]


# --- the list and forgetting -------------------------------------------------------------------


def test_list_shows_each_clients_day_links_and_code_status(registry):
    smith, code = add_client(registry)
    jones, _ = add_client(registry, name="A. Jones", treatment_date=date(2026, 11, 21), area=None)
    registry.redeem(code, "tg-1001", "telegram", now=NOW)

    first, second = registry.list("Europe/London", now=NOW)

    assert (first.client, first.day, first.conversations, first.code_status) == (
        smith,
        3,
        [("tg-1001", "telegram")],
        "used",
    )
    assert (second.client, second.day, second.conversations) == (jones, 0, [])
    assert second.code_status == "active until 2026-12-05 10:00 UTC"
    assert second.code_expires_at == NOW + timedelta(days=14)
    later = registry.list("Europe/London", now=NOW + timedelta(days=15))
    assert [s.day for s in later] == [18, 15]
    assert later[1].code_status == "expired"
    registry.new_code(jones.id, timedelta(days=1), now=NOW)
    assert registry.list("Europe/London", now=NOW)[1].code_status.startswith("active until")


def test_list_counts_days_in_the_clinics_time_zone(registry):
    add_client(registry)
    late_evening = datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc)

    (london,) = registry.list("Europe/London", now=late_evening)
    (tokyo,) = registry.list("Asia/Tokyo", now=late_evening)

    assert (london.day, tokyo.day) == (3, 4)


def test_forgetting_a_conversation_removes_its_link_and_the_client(registry, sessions):
    client, code = add_client(registry)
    other, _ = add_client(registry, name="A. Jones")
    registry.redeem(code, "tg-1001", "telegram", now=NOW)

    assert registry.forget_conversation("tg-1001") == client.id

    assert registry.client_for("tg-1001") is None
    assert registry.get(client.id) is None
    assert [s.client for s in registry.list("Europe/London", now=NOW)] == [other]
    with sessions() as session:
        codes = session.execute(select(LinkCodeRow.client_id)).scalars().all()
    assert codes == [other.id]
    assert registry.forget_conversation("tg-1001") is None
    assert registry.forget_conversation("never-linked") is None


def test_forgetting_one_of_two_chats_keeps_the_client(registry, sessions):
    client, first = add_client(registry)
    registry.redeem(first, "tg-1001", "telegram", now=NOW)
    second = registry.new_code(client.id, timedelta(days=1), now=NOW)
    registry.redeem(second, "web-abc", "web", now=NOW)

    assert registry.forget_conversation("tg-1001") == client.id

    assert registry.get(client.id) == client
    assert registry.client_for("web-abc") == client
    with sessions() as session:
        used_by = session.execute(select(LinkCodeRow.used_by)).scalars().all()
    assert "tg-1001" not in used_by  # the forgotten chat's id is not kept either
    # Its used code does not link it again.
    assert registry.redeem(first, "tg-1001", "telegram", now=NOW).status == "used"


# --- links and QR codes ------------------------------------------------------------------------


def test_deep_link_opens_the_bot_with_the_code():
    assert deep_link("NorthsideAftercareBot", "abc_DEF-123") == (
        "https://t.me/NorthsideAftercareBot?start=abc_DEF-123"
    )


def assert_png_is_qr_of(path: Path, link: str) -> None:
    """The PNG's modules, sampled at each module's centre, are the link's QR code."""
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = qr_code(link).get_matrix()  # includes the 4-module quiet zone
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = image.convert("L")
    size = len(expected)
    assert pixels.width == pixels.height and pixels.width % size == 0
    box = pixels.width // size
    sampled = [
        [pixels.getpixel((x * box + box // 2, y * box + box // 2)) < 128 for x in range(size)]
        for y in range(size)
    ]
    assert sampled == expected
    assert not any(sampled[0]) and not any(row[0] for row in sampled)  # white quiet zone
    assert sampled != qr_code(link + "x").get_matrix()  # the check tells links apart


def test_qr_png_holds_the_link(tmp_path):
    link = deep_link("NorthsideAftercareBot", new_code_text())

    path = write_qr_png(link, tmp_path / "new" / "folder" / "qr.png")

    assert path == tmp_path / "new" / "folder" / "qr.png"
    assert_png_is_qr_of(path, link)


# --- the bot's username ------------------------------------------------------------------------


def test_bot_username_comes_from_the_environment_then_the_settings(settings, clinic_dir):
    clinic = load_clinic(clinic_dir)
    assert bot_username(settings, clinic) == "NorthsideAftercareBot"
    with_env = settings.with_env(TELEGRAM_BOT_USERNAME="@OtherClinicBot")
    assert bot_username(with_env, clinic) == "OtherClinicBot"


def test_bot_username_is_asked_from_telegram_when_not_configured(
    settings, clinic_dir, telegram_api
):
    edit(clinic_dir / "settings.yml", 'bot_username: "NorthsideAftercareBot"\n', "")
    clinic = load_clinic(clinic_dir)
    asking = settings.with_env(
        TELEGRAM_BOT_TOKEN=telegram_api.token, TELEGRAM_API_BASE_URL=telegram_api.base_url
    )

    assert bot_username(asking, clinic) == BOT_USERNAME
    assert telegram_api.calls("getMe")


# --- the command line --------------------------------------------------------------------------


def clinic_today() -> date:
    return local_today("Europe/London")


def test_clients_add_prints_the_link_and_writes_its_qr_code(run_cli, tmp_path, settings):
    treated = clinic_today() - timedelta(days=3)
    before = now_utc()

    code, out, err = run_cli(
        "clients",
        "add",
        "--name",
        "J. Smith",
        "--date",
        treated.isoformat(),
        "--kind",
        "deep",
        "--area",
        "face",
        "--json",
    )

    assert (code, err) == (0, "")
    printed = json.loads(out)
    assert set(printed) == {
        "id",
        "name",
        "treatment_date",
        "kind",
        "area",
        "code",
        "link",
        "qr_path",
        "expires_at",
    }
    assert (printed["name"], printed["treatment_date"], printed["kind"], printed["area"]) == (
        "J. Smith",
        treated.isoformat(),
        "deep",
        "face",
    )
    assert printed["link"] == f"https://t.me/NorthsideAftercareBot?start={printed['code']}"
    expires = datetime.fromisoformat(printed["expires_at"])
    assert before + timedelta(days=14) <= expires <= now_utc() + timedelta(days=14)
    qr_path = Path(printed["qr_path"])
    assert qr_path == tmp_path / "var" / "links" / f"client-{printed['id']}.png"
    assert_png_is_qr_of(qr_path, printed["link"])
    registry = ClientRegistry(session_factory(settings.database_url))
    linked = registry.redeem(printed["code"], "tg-1001", "telegram")
    assert linked.status == "linked" and linked.client.id == printed["id"]


def test_clients_add_explains_the_link_in_text(run_cli, tmp_path):
    treated = clinic_today() - timedelta(days=1)

    code, out, _ = run_cli(
        "clients", "add", "--name", "J. Smith", "--date", f"{treated:%d/%m/%Y}", "--valid-days", "3"
    )

    assert code == 0
    assert "Client #1: J. Smith" in out
    assert f"treatment: {treated:%Y-%m-%d} (medical)" in out  # the clinic's default kind
    assert re.search(r"https://t\.me/NorthsideAftercareBot\?start=[A-Za-z0-9_-]{24}\b", out)
    assert "UTC" in out and "clinic time" in out
    assert str(tmp_path / "var" / "links" / "client-1.png") in out
    expires = re.search(r"until (\S+ \S+) UTC", out).group(1)
    expected = now_utc() + timedelta(days=3)
    assert abs(datetime.fromisoformat(expires).replace(tzinfo=timezone.utc) - expected) < (
        timedelta(minutes=2)
    )


def test_clients_add_reads_numeric_dates_in_the_clinics_order(run_cli, clinic_dir):
    treated = clinic_today() - timedelta(days=2)
    edit(clinic_dir / "settings.yml", "date_order: DMY", "date_order: MDY")

    code, out, err = run_cli(
        "clients", "add", "--name", "K. L.", "--date", f"{treated:%m/%d/%Y}", "--json"
    )

    assert code == 0, err
    assert json.loads(out)["treatment_date"] == treated.isoformat()


def test_valid_days_default_to_the_clinics_setting(run_cli, clinic_dir):
    edit(clinic_dir / "settings.yml", "link_valid_days: 14", "link_valid_days: 3")
    before = now_utc()

    code, out, _ = run_cli(
        "clients", "add", "--name", "J", "--date", clinic_today().isoformat(), "--json"
    )

    assert code == 0
    expires = datetime.fromisoformat(json.loads(out)["expires_at"])
    assert before + timedelta(days=3) <= expires <= now_utc() + timedelta(days=3)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--date", "{future}"], "is in the future"),
        (["--date", "{today}", "--kind", "laser"], "unknown treatment kind 'laser'"),
        (["--date", "{today}", "--name", "  "], "--name must not be empty"),
        (["--date", "31/02/2026"], "not a date of the calendar"),
        (["--date", "next week"], "write YYYY-MM-DD or DD/MM/YYYY"),
        (["--date", "{today}", "--valid-days", "0"], "--valid-days must be 1 or more"),
    ],
)
def test_clients_add_refuses_bad_input_and_registers_nobody(run_cli, arguments, message):
    values = {
        "future": (clinic_today() + timedelta(days=2)).isoformat(),
        "today": clinic_today().isoformat(),
    }
    argv = [a.format(**values) for a in arguments]
    if "--name" not in argv:
        argv += ["--name", "J. Smith"]

    code, out, err = run_cli("clients", "add", *argv)

    assert code == 2 and out == ""
    assert message in err
    if "laser" in message:
        assert "cosmetic, medical, deep" in err
    assert run_cli("clients", "list")[1] == "No clients registered.\n"


def test_clients_add_without_a_bot_username_says_where_to_set_it(run_cli, clinic_dir):
    edit(clinic_dir / "settings.yml", 'bot_username: "NorthsideAftercareBot"\n', "")

    code, out, err = run_cli("clients", "add", "--name", "J", "--date", clinic_today().isoformat())

    assert code == 2 and out == ""
    assert "telegram.bot_username" in err and "clinic/settings.yml" in err
    assert run_cli("clients", "list")[1] == "No clients registered.\n"


def test_clients_add_asks_telegram_for_the_username(run_cli, clinic_dir, telegram_api, monkeypatch):
    edit(clinic_dir / "settings.yml", 'bot_username: "NorthsideAftercareBot"\n', "")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_api.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", telegram_api.base_url)

    code, out, err = run_cli(
        "clients", "add", "--name", "J", "--date", clinic_today().isoformat(), "--json"
    )

    assert code == 0, err
    printed = json.loads(out)
    assert printed["link"] == f"https://t.me/{BOT_USERNAME}?start={printed['code']}"


def test_the_environment_overrides_the_bot_username(run_cli, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "StagingAftercareBot")

    code, out, _ = run_cli(
        "clients", "add", "--name", "J", "--date", clinic_today().isoformat(), "--json"
    )

    assert code == 0
    assert json.loads(out)["link"].startswith("https://t.me/StagingAftercareBot?start=")


def test_clients_link_issues_a_new_link_and_the_old_one_stops_working(run_cli, settings, tmp_path):
    _, out, _ = run_cli(
        "clients", "add", "--name", "J", "--date", clinic_today().isoformat(), "--json"
    )
    first = json.loads(out)
    qr = tmp_path / "print" / "j.png"

    code, out, err = run_cli("clients", "link", str(first["id"]), "--qr", str(qr), "--json")

    assert code == 0, err
    second = json.loads(out)
    assert second["id"] == first["id"] and second["code"] != first["code"]
    assert second["qr_path"] == str(qr)
    assert_png_is_qr_of(qr, second["link"])
    registry = ClientRegistry(session_factory(settings.database_url))
    assert registry.redeem(first["code"], "tg-1", "telegram").status == "expired"
    assert registry.redeem(second["code"], "tg-1", "telegram").status == "linked"
    assert run_cli("clients", "link", "99")[0] == 1


def test_clients_list_shows_day_links_and_link_status(run_cli, settings):
    assert run_cli("clients", "list") == (0, "No clients registered.\n", "")
    assert run_cli("clients", "list", "--json")[1] == "[]\n"
    treated = clinic_today() - timedelta(days=4)
    _, out, _ = run_cli(
        "clients", "add", "--name", "J. Smith", "--date", treated.isoformat(), "--json"
    )
    added = json.loads(out)
    ClientRegistry(session_factory(settings.database_url)).redeem(
        added["code"], "tg-1001", "telegram"
    )

    code, out, _ = run_cli("clients", "list")

    assert code == 0
    assert re.search(r"#1\s+J\. Smith\s+medical\s+treated \S+, day 4\b", out)
    assert "tg-1001 (telegram)" in out and "link: used" in out
    (listed,) = json.loads(run_cli("clients", "list", "--json")[1])
    assert listed["day"] == 4 and listed["treatment_date"] == treated.isoformat()
    assert listed["conversations"] == [{"conversation_id": "tg-1001", "channel": "telegram"}]
    assert listed["code_status"] == "used"


# --- staff forget a client (`aftercare clients forget ID`) ---------------------------------------

CLOSED = "http://127.0.0.1:9"  # nothing listens: the bot is stopped


def tracker_with_events(path: Path, senders: list[str]) -> None:
    """Rasa's SQL tracker table as the stopped bot left it, one event per sender."""
    with sqlite3.connect(path) as db:
        db.execute(
            "create table events (id integer primary key, sender_id text, type_name text,"
            " timestamp real, data text)"
        )
        db.executemany(
            "insert into events (sender_id, type_name, timestamp, data) values (?, 'user', 0, '{}')",
            [(s,) for s in senders],
        )


def event_senders(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(r[0] for r in db.execute("select sender_id from events"))


def test_forgetting_a_client_of_a_stopped_bot_deletes_every_chat_and_the_client(
    run_cli, registry, tmp_path, monkeypatch
):
    client, code = add_client(registry)
    other, other_code = add_client(registry, name="A. Jones")
    registry.redeem(code, "tg-1001", "telegram", now=NOW)
    registry.redeem(
        registry.new_code(client.id, timedelta(days=1), now=NOW), "web-abc", "web", now=NOW
    )
    registry.redeem(other_code, "tg-2002", "telegram", now=NOW)
    tracker = tmp_path / "tracker.db"
    tracker_with_events(tracker, ["tg-1001", "web-abc", "tg-2002", "tg-1001"])
    monkeypatch.setenv("AFTERCARE_TRACKER_DB", str(tracker))

    code_, out, err = run_cli(
        "clients", "forget", str(client.id), "--yes", "--json", "--url", CLOSED
    )

    assert code_ == 0, err
    assert json.loads(out) == {
        "client": client.id,
        "existed": True,
        "conversations": 2,
        "escalations_redacted": 0,
    }
    assert registry.get(client.id) is None
    assert registry.client_for("web-abc") is None and registry.client_for("tg-1001") is None
    assert registry.client_for("tg-2002") == other
    assert event_senders(tracker) == ["tg-2002"]


def test_forgetting_a_client_asks_first_and_deletes_nothing_unconfirmed(run_cli, registry):
    client, code = add_client(registry)
    registry.redeem(code, "tg-1001", "telegram", now=NOW)

    code_, _, err = run_cli("clients", "forget", str(client.id), "--url", CLOSED)  # no terminal

    assert code_ == 1 and "--yes" in err and "nothing deleted" in err
    assert registry.get(client.id) == client
    assert run_cli("clients", "forget", "999", "--yes", "--url", CLOSED)[0] == 1


def test_forgetting_refuses_to_work_behind_a_running_bot_it_cannot_reach(
    run_cli, registry, sessions, tmp_path, monkeypatch
):
    client, code = add_client(registry)
    registry.redeem(code, "tg-1001", "telegram", now=NOW)
    tracker = tmp_path / "tracker.db"
    tracker_with_events(tracker, ["tg-1001"])
    monkeypatch.setenv("AFTERCARE_TRACKER_DB", str(tracker))
    Heartbeats(sessions).beat(NOTIFIER)  # a notifier runs on this database right now

    code_, _, err = run_cli("clients", "forget", str(client.id), "--yes", "--url", CLOSED)

    assert code_ == 1 and "--url" in err
    assert registry.get(client.id) == client and event_senders(tracker) == ["tg-1001"]


def test_control_requests_are_accepted_only_signed_with_the_key_and_unexpired():
    key, now, registered = b"k" * 32, 1_800_000_000.0, "2026-11-18T09:00:00+00:00"
    body, signature = signed_request(key, 7, registered, now)

    assert verified_request(key, body, signature, now) == (7, registered)
    assert verified_request(key, body, signature, now + REQUEST_SECONDS) == (7, registered)
    late = now + REQUEST_SECONDS + CLOCK_SKEW_SECONDS + 1
    assert verified_request(key, body, signature, late) is None  # expired
    # The command's clock a little ahead of the server's: still accepted.
    ahead, ahead_signature = signed_request(key, 7, registered, now + 3)
    assert verified_request(key, ahead, ahead_signature, now) == (7, registered)
    assert verified_request(b"x" * 32, body, signature, now) is None  # another key
    assert verified_request(key, body.replace(b"7,", b"8,"), signature, now) is None  # tampered
    assert verified_request(key, body, None, now) is None
    assert verified_request(key, body, "", now) is None
    assert verified_request(key, body, "é" * 64, now) is None  # not hex: refused, no error
    far, far_signature = signed_request(key, 7, registered, now + 3600)  # valid too long
    assert verified_request(key, far, far_signature, now) is None
    for junk in (b'{"client": "7", "registered": "x", "expires": 1}', b"not json", b"[]"):
        assert verified_request(key, junk, sign(key, junk), now) is None


def test_a_forget_request_for_an_earlier_registration_of_the_id_deletes_nothing(registry, sessions):
    client, code = add_client(registry)
    registry.redeem(code, "tg-1001", "telegram", now=NOW)

    done = asyncio.run(forget_client(None, sessions, client.id, "2020-01-01T00:00:00+00:00"))

    assert not done.existed and done.conversations == 0
    assert registry.get(client.id) == client and registry.client_for("tg-1001") == client
    assert registration(client) == client.created_at.isoformat()


def test_forgetting_a_stopped_bots_client_needs_rasas_conversations(
    run_cli, registry, tmp_path, monkeypatch
):
    client, code = add_client(registry)
    registry.redeem(code, "tg-1001", "telegram", now=NOW)
    monkeypatch.setenv("AFTERCARE_TRACKER_DB", str(tmp_path / "not-here.db"))

    code_, _, err = run_cli("clients", "forget", str(client.id), "--yes", "--url", CLOSED)

    assert code_ == 1 and "not-here.db" in err and "nothing deleted" in err
    assert registry.client_for("tg-1001") == client
    with registry._sessions() as session:  # its codes too
        assert session.execute(
            select(LinkCodeRow).where(LinkCodeRow.client_id == client.id)
        ).first()
