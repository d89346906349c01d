"""The staff inbox's web app on loopback (a fake of Rasa's API beside it): sessions, CSRF,
login limits, and what claim, reply, note, hand back, acknowledge and resolve do."""

from __future__ import annotations

import re

import httpx
import pytest

from bot.inbox.desk import Desk
from bot.inbox.views import conversation_key
from bot.inbox.web import InboxApp
from bot.kb.store import ClinicStore
from bot.serve.harness import free_port
from bot.settings import Settings
from bot.storage.engine import session_factory
from bot.storage.escalations import EscalationRepository
from bot.storage.forget import forget_in_database
from bot.storage.handoffs import Handoffs
from bot.storage.staff import FAILURES_PER_NAME, AuditLog, StaffAccounts
from tests.fakes.rasa_api import FakeRasaApi, start_app, stop_app

PASSWORD = "correct horse battery"
SENDER = "telegram-4242"


@pytest.fixture
def rasa():
    fake = FakeRasaApi().start()
    yield fake
    fake.stop()


@pytest.fixture
def inbox(database_url, clinic_dir, rasa):
    """The inbox app on a free port, with an admin (Mia) and a staff member (Sam)."""
    settings = Settings.from_env(
        {
            "AFTERCARE_CLINIC_DIR": str(clinic_dir),
            "AFTERCARE_DATABASE_URL": database_url,
            "AFTERCARE_RASA_URL": rasa.url,
        }
    )
    desk = Desk.build(settings, ClinicStore(settings.clinic_dir))
    desk.accounts.add("Mia", "admin", PASSWORD)
    desk.accounts.add("Sam", "staff", PASSWORD)
    port = free_port()
    loop, runner = start_app(InboxApp(desk, secure_cookies=False).app(), port)
    desk.url = f"http://127.0.0.1:{port}"
    yield desk
    stop_app(loop, runner)


def client(desk: Desk) -> httpx.Client:
    return httpx.Client(base_url=desk.url, follow_redirects=False, timeout=20)


def form_token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def log_in(desk: Desk, name: str = "Mia", password: str = PASSWORD) -> httpx.Client:
    browser = client(desk)
    token = form_token(browser.get("/login").text)
    response = browser.post("/login", data={"csrf": token, "name": name, "password": password})
    assert response.status_code == 303, response.text
    return browser


def page_token(browser: httpx.Client, path: str = "/") -> str:
    return form_token(browser.get(path).text)


def escalate(desk: Desk, sender: str = SENDER, level: str = "urgent") -> int:
    repo = EscalationRepository(desk.accounts._sessions)
    created = repo.create(
        sender,
        level,
        "my lips are swelling",
        None,
        3,
        symptoms=["swelling"],
        treatment_kind="medical",
        client_name="Ana",
        deadline_minutes=30,
    )
    return created.id


ROUTES_GET = ["/", "/?view=mine", "/overview", "/clients", "/audit", "/photo/1"]


def test_every_inbox_route_refuses_without_a_session(inbox):
    browser = client(inbox)
    key = conversation_key(SENDER)
    for path in [*ROUTES_GET, f"/c/{key}"]:
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert browser.get("/?fragment=1").status_code == 401
    for path in [
        f"/c/{key}/reply",
        f"/c/{key}/claim",
        "/e/1/resolve",
        "/e/1/acknowledge",
        "/logout",
    ]:
        assert browser.post(path, data={"text": "hi", "csrf": "x"}).status_code == 401
    assert "Ana" not in browser.get("/", follow_redirects=True).text


def test_posts_without_the_sessions_csrf_token_are_refused(inbox, rasa):
    browser = log_in(inbox)
    key = conversation_key(SENDER)
    assert browser.post(f"/c/{key}/claim", data={}).status_code == 403
    assert browser.post(f"/c/{key}/claim", data={"csrf": "forged"}).status_code == 403
    other_site = {"Origin": "https://evil.example"}
    token = page_token(browser)
    response = browser.post(f"/c/{key}/claim", data={"csrf": token}, headers=other_site)
    assert response.status_code == 403
    assert Handoffs(inbox.accounts._sessions).owner(SENDER) is None and not rasa.actions
    # The login form has its own token: a post without it logs nobody in.
    fresh = client(inbox)
    response = fresh.post("/login", data={"name": "Mia", "password": PASSWORD})
    assert response.status_code == 403 and "aftercare_staff" not in response.cookies


def test_wrong_passwords_are_rate_limited_even_for_the_right_one_after(inbox):
    browser = client(inbox)
    for _ in range(FAILURES_PER_NAME):
        token = form_token(browser.get("/login").text)
        wrong = browser.post("/login", data={"csrf": token, "name": "Mia", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    token = form_token(browser.get("/login").text)
    right = browser.post("/login", data={"csrf": token, "name": "Mia", "password": PASSWORD})
    assert right.status_code == 429 and "aftercare_staff" not in right.cookies
    log_in(inbox, "Sam")  # another account is not locked out by Mia's failures


def test_session_cookie_is_httponly_samesite_and_ends_at_logout(inbox):
    browser = client(inbox)
    token = form_token(browser.get("/login").text)
    response = browser.post("/login", data={"csrf": token, "name": "mia", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "aftercare_staff=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert browser.get("/").status_code == 200
    stolen = browser.cookies["aftercare_staff"]
    assert browser.post("/logout", data={"csrf": page_token(browser)}).status_code == 303
    replay = client(inbox)
    replay.cookies.set("aftercare_staff", stolen)
    assert replay.get("/").status_code == 303  # the old cookie opens nothing


def test_secure_cookie_behind_https(database_url, clinic_dir, rasa):
    settings = Settings.from_env(
        {"AFTERCARE_CLINIC_DIR": str(clinic_dir), "AFTERCARE_DATABASE_URL": database_url}
    )
    desk = Desk.build(settings, ClinicStore(settings.clinic_dir))
    desk.accounts.add("Mia", "admin", PASSWORD)
    port = free_port()
    loop, runner = start_app(InboxApp(desk, secure_cookies=True).app(), port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            assert "Secure" in browser.get("/login").headers["set-cookie"]
    finally:
        stop_app(loop, runner)


def test_audit_log_is_for_admins_only(inbox):
    assert log_in(inbox, "Sam").get("/audit").status_code == 403
    page = log_in(inbox, "Mia").get("/audit")
    assert page.status_code == 200 and "logged in" in page.text


def test_claim_reply_note_hand_back_and_resolve(inbox, rasa):
    escalation = escalate(inbox)
    sessions = inbox.accounts._sessions
    browser = log_in(inbox, "Sam")
    queue = browser.get("/").text
    assert "Ana" in queue and "URGENT" in queue
    key = conversation_key(SENDER)
    token = page_token(browser, f"/c/{key}")
    assert browser.post(f"/c/{key}/claim", data={"csrf": token}).status_code == 303
    assert Handoffs(sessions).owner(SENDER).owner_name == "Sam"
    reply = "Hi Ana, <b>please</b> send a photo"
    assert browser.post(f"/c/{key}/reply", data={"csrf": token, "text": reply}).status_code == 303
    browser.post(f"/c/{key}/note", data={"csrf": token, "text": "called her, no answer"})
    page = browser.get(f"/c/{key}").text
    assert "called her, no answer" in page and "&lt;b&gt;please&lt;/b&gt;" in page
    assert browser.post(f"/c/{key}/hand_back", data={"csrf": token}).status_code == 303
    assert Handoffs(sessions).owner(SENDER) is None
    assert EscalationRepository(sessions).get(escalation).acknowledged_by == "inbox:Sam"
    browser.post(f"/e/{escalation}/resolve", data={"csrf": token, "back": f"/c/{key}"})
    assert EscalationRepository(sessions).get(escalation).status == "resolved"
    kinds = [(e["kind"], e["staff_name"]) for e in rasa.staff_events()]
    assert kinds == [("joined", "Sam"), ("reply", "Sam"), ("left", "Sam"), ("resolved", "Sam")]
    assert rasa.staff_events()[1]["text"] == reply  # notes never reach the client
    actions = [(a.staff_name, a.action) for a in AuditLog(sessions).recent()][::-1]
    assert actions[1:] == [
        ("Sam", "claim"),
        ("Sam", "acknowledge"),  # taking the chat acknowledges it: no re-alert, no "please call"
        ("Sam", "reply"),
        ("Sam", "note"),
        ("Sam", "hand_back"),
        ("Sam", "resolve"),
    ]
    assert all(reply not in (a.detail or "") for a in AuditLog(sessions).recent())


def test_someone_elses_chat_is_not_replied_to_until_taken_over(inbox, rasa):
    escalate(inbox)
    key = conversation_key(SENDER)
    mia, sam = log_in(inbox, "Mia"), log_in(inbox, "Sam")
    mia.post(f"/c/{key}/claim", data={"csrf": page_token(mia, f"/c/{key}")})
    token = page_token(sam, f"/c/{key}")
    page = sam.post(f"/c/{key}/reply", data={"csrf": token, "text": "me too"})
    assert "Someone else has this chat" in page.text and "me too" in page.text  # kept
    sam.post(f"/c/{key}/take_over", data={"csrf": token})
    assert Handoffs(inbox.accounts._sessions).owner(SENDER).owner_name == "Sam"


def test_a_reply_rasa_cannot_take_is_kept_and_shown_as_not_delivered(inbox, rasa):
    escalate(inbox)
    key = conversation_key(SENDER)
    browser = log_in(inbox, "Sam")
    token = page_token(browser, f"/c/{key}")
    rasa.down = True
    page = browser.post(f"/c/{key}/reply", data={"csrf": token, "text": "are you OK?"})
    assert "NOT delivered" in page.text and "are you OK?" in page.text
    rasa.down = False
    assert "NOT DELIVERED" in browser.get(f"/c/{key}").text
    assert [
        a.detail for a in AuditLog(inbox.accounts._sessions).recent() if a.action == "reply"
    ] == ["failed"]


def test_acknowledge_from_the_inbox_queues_the_clients_notice(inbox):
    escalation = escalate(inbox)
    browser = log_in(inbox, "Sam")
    token = page_token(browser)
    browser.post(f"/e/{escalation}/acknowledge", data={"csrf": token, "back": "/"})
    repo = EscalationRepository(inbox.accounts._sessions)
    assert repo.get(escalation).acknowledged_by == "inbox:Sam"
    assert any(d["purpose"] == "ack_notice" for d in repo.deliveries(escalation))
    assert "Ana" in browser.get("/?view=acknowledged").text


def test_forget_removes_staff_replies_and_notes_but_keeps_who_did_what(inbox, rasa):
    escalate(inbox)
    key = conversation_key(SENDER)
    browser = log_in(inbox, "Sam")
    token = page_token(browser, f"/c/{key}")
    browser.post(f"/c/{key}/reply", data={"csrf": token, "text": "secret reply"})
    browser.post(f"/c/{key}/note", data={"csrf": token, "text": "secret note"})
    sessions = inbox.accounts._sessions
    forget_in_database(sessions, SENDER)
    assert Handoffs(sessions).messages(SENDER) == [] and Handoffs(sessions).owner(SENDER) is None
    entries = [a for a in AuditLog(sessions).recent() if a.action in ("reply", "note")]
    assert len(entries) == 2 and {a.sender_id for a in entries} == {"forgotten"}


def test_staff_accounts_refuse_weak_passwords_and_duplicate_names(database_url):
    from bot.storage.engine import get_engine
    from bot.storage.staff import AccountError

    get_engine(database_url)
    accounts = StaffAccounts(session_factory(database_url))
    accounts.add("Lee", "staff", PASSWORD)
    with pytest.raises(AccountError):
        accounts.add("lee", "staff", PASSWORD)
    with pytest.raises(AccountError):
        accounts.add("Kim", "staff", "short")
    with pytest.raises(AccountError):
        accounts.add("Kim", "owner", PASSWORD)
    assert accounts.log_in("Lee", PASSWORD, "a") is not None
    accounts.set_disabled("Lee", True)
    assert accounts.log_in("Lee", PASSWORD, "a") is None


def test_an_alert_that_could_not_be_delivered_is_shown_loudly(inbox):
    from sqlalchemy import update

    from bot.storage.models import OutboxRow

    escalation = escalate(inbox)
    sessions = inbox.accounts._sessions
    with sessions.begin() as session:
        session.add(OutboxRow(escalation_id=escalation, channel="webhook", purpose="alert"))
    with sessions.begin() as session:
        session.execute(update(OutboxRow).values(status="failed", last_error="HTTP 410"))
    browser = log_in(inbox, "Sam")
    assert "Alert NOT delivered" in browser.get("/").text
    assert "FAILED" in browser.get(f"/c/{conversation_key(SENDER)}").text


def test_staff_can_open_a_registered_clients_chat_and_write_first(inbox, rasa):
    from datetime import date

    from bot.storage.clients import ClientRegistry

    registry = ClientRegistry(inbox.accounts._sessions)
    client, code = registry.add("Bea", date(2026, 11, 30), "medical")
    registry.redeem(code, "telegram-777", "telegram")
    browser = log_in(inbox, "Sam")
    clients = browser.get("/clients").text
    key = conversation_key("telegram-777")
    assert "Bea" in clients and f"/c/{key}" in clients
    page = browser.get(f"/c/{key}").text
    assert "Bea" in page and "2026-11-30" in page
    token = form_token(page)
    browser.post(f"/c/{key}/reply", data={"csrf": token, "text": "Hi Bea, how is your skin?"})
    assert [e["kind"] for e in rasa.staff_events()] == ["joined", "reply"]
    assert Handoffs(inbox.accounts._sessions).owner("telegram-777").owner_name == "Sam"


def test_a_hand_off_nobody_replies_in_goes_back_to_the_bot_and_the_client_is_told(inbox, rasa):
    import asyncio
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from bot.storage.models import HandoffRow

    sessions = inbox.accounts._sessions
    Handoffs(sessions).claim(SENDER, None, "Sam")
    Handoffs(sessions).claim("telegram-busy", None, "Mia")
    idle = inbox.store.current().settings.inbox.handoff_idle_minutes
    old = datetime.now(timezone.utc) - timedelta(minutes=idle + 1)
    with sessions.begin() as session:
        session.execute(
            update(HandoffRow).where(HandoffRow.sender_id == SENDER).values(active_at=old)
        )
    released = asyncio.run(inbox.sweep())
    assert [h.sender_id for h in released] == [SENDER]
    assert Handoffs(sessions).owner(SENDER) is None
    assert Handoffs(sessions).owner("telegram-busy") is not None
    assert rasa.staff_events() == [{"kind": "idle", "staff_name": "Sam", "text": ""}]
    assert [(a.staff_name, a.action) for a in AuditLog(sessions).recent()] == [
        ("bot", "idle_return")
    ]


def test_redirects_after_login_and_actions_stay_on_this_site():
    from bot.inbox.security import safe_next

    for bad in [
        "//evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        "/\\evil.com",
        "https://evil.com",
        "/ /evil.com",
        "/@evil.com",
        "",
        None,
        "evil.com",
    ]:
        assert safe_next(bad) == "/", bad
    assert safe_next("/c/dGVsZWdyYW0tNDI?problem=owned") == "/c/dGVsZWdyYW0tNDI?problem=owned"
    assert safe_next("/?view=mine") == "/?view=mine"


def test_login_redirect_ignores_a_crafted_next(inbox):
    browser = client(inbox)
    token = form_token(browser.get("/login?next=/%09/evil.com").text)
    data = {"csrf": token, "name": "Mia", "password": PASSWORD, "next": "/\t/evil.com"}
    assert browser.post("/login", data=data).headers["location"] == "/"


def test_names_compare_in_any_case_and_script(database_url):
    from bot.storage.engine import get_engine
    from bot.storage.staff import AccountError

    get_engine(database_url)
    accounts = StaffAccounts(session_factory(database_url))
    accounts.add("Émilie", "staff", PASSWORD)
    assert accounts.log_in("émilie", PASSWORD, "a") is not None
    assert accounts.log_in("ÉMILIE", PASSWORD, "a") is not None
    with pytest.raises(AccountError):
        accounts.add("émilie", "staff", PASSWORD)


def test_a_canned_reply_with_stray_braces_is_shown_as_written():
    from bot.inbox.pages import fill

    assert fill("Hi {client_name} :-}", {"client_name": "Ana"}) == "Hi {client_name} :-}"
    assert fill("Hi {client_name}, call {clinic_phone}", {"client_name": "Ana"}) == (
        "Hi Ana, call {clinic_phone}"
    )
    assert fill("{0} {a.b}", {}) == "{0} {a.b}"


def test_two_staff_claiming_at_once_get_one_owner(database_url):
    from concurrent.futures import ThreadPoolExecutor

    from bot.storage.engine import get_engine

    get_engine(database_url)
    handoffs = Handoffs(session_factory(database_url))
    for round_ in range(5):
        sender = f"telegram-race-{round_}"
        with ThreadPoolExecutor(8) as pool:
            names = [(sender, None, f"staff{n}") for n in range(8)]
            results = list(pool.map(lambda args: handoffs.claim(*args), names))
        assert sum(changed for _, changed in results) == 1
        owner = handoffs.owner(sender).owner_name
        assert all(h.owner_name == owner for h, _ in results)


def test_behind_a_proxy_only_the_public_origin_may_post_and_logins_count_per_client(
    database_url, clinic_dir, rasa
):
    settings = Settings.from_env(
        {"AFTERCARE_CLINIC_DIR": str(clinic_dir), "AFTERCARE_DATABASE_URL": database_url}
    )
    desk = Desk.build(settings, ClinicStore(settings.clinic_dir))
    desk.accounts.add("Mia", "admin", PASSWORD)
    port = free_port()
    app = InboxApp(desk, secure_cookies=True, public_origin="https://inbox.clinic.example")
    loop, runner = start_app(app.app(), port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            token = form_token(browser.get("/login").text)
            browser.cookies.set("aftercare_login", token)
            proxied = {"Origin": "https://inbox.clinic.example", "X-Forwarded-For": "10.0.0.7"}
            for _ in range(FAILURES_PER_NAME):
                data = {"csrf": token, "name": "Mia", "password": "wrong"}
                assert browser.post("/login", data=data, headers=proxied).status_code == 401
            right = {"csrf": token, "name": "Mia", "password": PASSWORD}
            assert browser.post("/login", data=right, headers=proxied).status_code == 429
            # The same name from another client of the proxy is not locked out.
            other = {**proxied, "X-Forwarded-For": "10.0.0.8"}
            assert browser.post("/login", data=right, headers=other).status_code == 303
            wrong_site = {**other, "Origin": "http://127.0.0.1:%d" % port}
            assert browser.post("/login", data=right, headers=wrong_site).status_code == 403
    finally:
        stop_app(loop, runner)
