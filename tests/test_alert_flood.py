"""An alert flood cannot bury a real emergency (issue 14): on the real stack (`aftercare run`
with the widget, Telegram on the fake Bot API and a slow clinic webhook on loopback), one
address opens chat after chat with a red flag in each and one Telegram user sends red flag
after red flag; both are capped, and another client's emergency, sent while the backlog of
their alerts is still being delivered, reaches the staff webhook within 5 seconds."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot.channels.limits import RATE_MESSAGES, RATE_NEW_CHATS_PER_ADDRESS
from bot.serve.harness import free_port
from tests.conftest import SHIPPED_CLINIC, RunningBot
from tests.fakes.telegram_api import FakeTelegramApi
from tests.test_red_flags_end_to_end import wait_until

pytestmark = pytest.mark.integration
SITE = {"Origin": "https://www.northside-skin.example"}
RED_FLAG = "day 4 and there's yellow pus coming out, the redness is spreading and I feel feverish"
EMERGENCY = "day 2 - my lips are swelling up and I can't breathe properly"
FLOODER, CALLER = "127.0.0.2", "127.0.0.3"
TELEGRAM_FLOODER = 7070
SEND_SECONDS = 0.4  # the clinic's webhook takes this long per alert (a busy chat service)


class _SlowHook(BaseHTTPRequestHandler):
    """The clinic's webhook, taking one alert at a time once `open` is set; until then it is
    down (503: the notifier retries later), so the flood's backlog builds up however fast
    this machine is. Keeps when each alert arrived and what it said."""

    arrived: list[tuple[float, dict]] = []
    wall: list[float] = []  # the same arrivals, Unix time
    lock = threading.Lock()
    open = threading.Event()

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not _SlowHook.open.is_set():
            self.send_response(503)
            self.end_headers()
            return
        with _SlowHook.lock:
            time.sleep(SEND_SECONDS)
            _SlowHook.arrived.append((time.monotonic(), body))
            _SlowHook.wall.append(time.time())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_webhook():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _SlowHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _SlowHook.arrived, _SlowHook.wall = [], []
    _SlowHook.open.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture
def telegram():
    api = FakeTelegramApi()
    api.start()
    yield api
    api.stop()


def _chat(client: httpx.Client, url: str, text: str) -> tuple[int, int]:
    """A new widget chat with one message: the /session and /message status codes."""
    session = client.post(f"{url}/session", headers=SITE, content="{}")
    if session.status_code != 200:
        return session.status_code, 0
    token = session.json()["token"]
    message = client.post(
        f"{url}/message", headers=SITE, content=json.dumps({"token": token, "text": text})
    )
    return 200, message.status_code


def _flood_web(url: str, chats: int) -> list[tuple[int, int]]:
    client = httpx.Client(transport=httpx.HTTPTransport(local_address=FLOODER), timeout=60)
    with client, ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: _chat(client, url, RED_FLAG), range(chats)))


def test_a_flood_of_red_flags_is_capped_and_another_clients_emergency_reaches_staff_in_5s(
    tmp_path, trained_model, slow_webhook, telegram
):
    clinic = tmp_path / "clinic"
    shutil.copytree(SHIPPED_CLINIC, clinic)
    settings = clinic / "settings.yml"
    settings.write_text(
        settings.read_text().replace(
            '    # webhook:\n    #   url: "https://hooks.slack.com/services/..."',
            f'    webhook:\n      url: "{slow_webhook}"',
        )
    )
    bot = RunningBot(
        {
            "AFTERCARE_CLINIC_DIR": str(clinic),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
        }
    )
    bot.start()
    url = f"http://127.0.0.1:{bot.port}/webhooks/web"
    try:
        assert wait_until(lambda: telegram.calls("getUpdates"), 60), "Telegram never polled"
        flood_chats = RATE_NEW_CHATS_PER_ADDRESS + 20
        for n in range(2 * RATE_MESSAGES + 10):
            telegram.push_text(TELEGRAM_FLOODER, f"{RED_FLAG} ({n})")
        web = _flood_web(url, flood_chats)
        assert wait_until(lambda: len(telegram.sent) >= 2 * RATE_MESSAGES, 120)

        # Their alerts waited for a webhook that comes back now, taking one every
        # SEND_SECONDS, as the emergency comes in.
        _SlowHook.open.set()
        caller = httpx.Client(transport=httpx.HTTPTransport(local_address=CALLER), timeout=60)
        with caller:
            sent_at = time.monotonic()
            assert _chat(caller, url, EMERGENCY) == (200, 200)

        def emergency_arrived() -> float | None:
            with _SlowHook.lock:
                times = [t for t, a in _SlowHook.arrived if a.get("level") == "emergency"]
            return times[0] if times else None

        assert wait_until(lambda: emergency_arrived() is not None, 30)
        arrived = emergency_arrived()
        assert arrived - sent_at < 5.0
        with _SlowHook.lock:  # urgent alerts sent once the emergency was stored
            (stored,) = (
                datetime.fromisoformat(a["created_at"]).timestamp()
                for _, a in _SlowHook.arrived
                if a.get("level") == "emergency"
            )
            arrived_wall = _SlowHook.wall[
                [a["level"] for _, a in _SlowHook.arrived].index("emergency")
            ]
            jumped = sum(
                1
                for (_, a), wall in zip(_SlowHook.arrived, _SlowHook.wall, strict=True)
                if a.get("level") == "urgent" and stored < wall < arrived_wall
            )
    finally:
        _SlowHook.open.set()
        stopped = bot.stop()
    assert stopped == 0

    sessions = [s for s, _ in web]
    assert sessions.count(200) == RATE_NEW_CHATS_PER_ADDRESS  # new chats per address: capped
    assert set(sessions) == {200, 429}
    with sqlite3.connect(tmp_path / "app.db") as db:
        levels = db.execute("SELECT sender_id, level FROM escalations").fetchall()
    telegram_escalations = [s for s, _ in levels if s == f"telegram-{TELEGRAM_FLOODER}"]
    assert len(telegram_escalations) == 1  # one open escalation per conversation and level
    web_urgent = [s for s, level in levels if s.startswith("web-") and level == "urgent"]
    assert len(web_urgent) <= RATE_NEW_CHATS_PER_ADDRESS
    assert [level for _, level in levels].count("emergency") == 1
    # The flood's alerts were waiting when the emergency was stored: it went next (after at
    # most the one being sent at that moment).
    assert jumped <= 1 and len(web_urgent) > 20
