"""`aftercare run`: start everything the bot needs on localhost and say where to chat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.demo_site import widget_tag
from bot.harness import ActionServerProcess, HarnessError
from bot.settings import Settings
from bot.training import model_path, train


def _wait_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(f"process stopped before answering {url}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise HarnessError(f"{url} did not answer within {timeout:.0f}s")


def _telegram_line(telegram, rasa_port: int) -> str:
    """Where Telegram clients come in, for the start-up banner."""
    if telegram is None:
        return (
            "  Telegram:           off (set TELEGRAM_BOT_TOKEN to turn it on; README, Telegram)\n"
        )
    if telegram.mode == "webhook":
        return (
            f"  Telegram:           webhook {telegram.webhook_url} -> "
            f"http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook\n"
        )
    return "  Telegram:           long polling (message the clinic's bot; links: aftercare clients add)\n"


def run(
    settings: Settings, rasa_port: int = 5005, action_port: int = 5055, web_port: int = 8080
) -> int:
    """Train if needed, start the action server, Rasa and the demo clinic page (with the chat
    widget), and supervise them until Ctrl-C."""
    from bot.service import AftercareService

    service = AftercareService(settings)
    clinic = service.clinic()  # a broken KB stops here, with file and line
    if not clinic.settings.alerts.names():
        print(
            "WARNING: no staff alert channel is configured (clinic/settings.yml, alerts:). Red flags are\n"
            "recorded (aftercare escalations list) and clients are told to call the clinic, but no one\n"
            "is notified.",
            file=sys.stderr,
        )
    from bot.channels.telegram_config import TelegramConfig

    telegram = TelegramConfig.from_settings(settings)  # a half-set webhook stops here
    train(settings.project_dir, settings.models_dir)
    (settings.project_dir / "var").mkdir(exist_ok=True)
    actions = ActionServerProcess(settings, port=action_port)
    rasa_cmd = [
        # Rasa's own CLI with the speed fixes of bot.rasa_tuning installed.
        sys.executable,
        "-m",
        "bot.rasa_server",
        "run",
        "--model",
        str(model_path(settings.models_dir)),
        "--interface",
        "127.0.0.1",
        "--port",
        str(rasa_port),
        "--credentials",
        "credentials.yml",
        "--endpoints",
        "endpoints.yml",
        # Bound to 127.0.0.1: the alert notifier uses the API to tell clients about their
        # escalation. Put a reverse proxy with auth in front before exposing Rasa anywhere.
        "--enable-api",
    ]
    from bot.channels.web_format import ORIGINS_ENV
    from bot.demo_site import DemoSite

    bot_url = f"http://127.0.0.1:{rasa_port}"
    demo = DemoSite(lambda: service.clinic().settings, bot_url, port=web_port)
    env = {
        "AFTERCARE_TRACKER_DB": str(settings.project_dir / "var" / "rasa_tracker.db"),
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "AFTERCARE_ACTION_URL": actions.url,
        # The demo page is a site of its own (another port): the widget API must allow it.
        ORIGINS_ENV: ",".join(
            [o for o in os.environ.get(ORIGINS_ENV, "").split(",") if o.strip()]
            + list(demo.origins())
        ),
    }
    rasa: subprocess.Popen | None = None
    notifier: subprocess.Popen | None = None

    def _terminate(signum, frame):  # SIGTERM: stop children like Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # even when started in the background (SIGINT ignored)
    try:
        # Both start at once (Rasa needs the action server only when a message comes): the
        # cold start is the slower of the two, not their sum.
        actions.launch()
        rasa = subprocess.Popen(rasa_cmd, cwd=settings.project_dir, env=env)
        actions.wait_ready(timeout=120)
        print(f"Action server: http://127.0.0.1:{action_port}", flush=True)
        _wait_http(f"http://127.0.0.1:{rasa_port}/", rasa, timeout=180)
        demo.start()
        notifier_env = {**env, "AFTERCARE_RASA_URL": f"http://127.0.0.1:{rasa_port}"}
        notifier_cmd = [str(Path(sys.executable).with_name("aftercare")), "notifier"]
        notifier = subprocess.Popen(
            notifier_cmd,
            cwd=settings.project_dir,
            env=notifier_env,
        )
        print(
            "\nAftercare Assistant is running.\n"
            f"  Chat in a terminal:  make chat   (or .venv/bin/aftercare chat)\n"
            f"  REST channel:        POST http://127.0.0.1:{rasa_port}/webhooks/rest/webhook\n"
            '                       {"sender": "client-1", "message": "can I wear makeup?"}\n'
            f"  Clinic answers:      {settings.clinic_dir}/knowledge/*.yml (edits apply on the next message)\n"
            "  Red flags for staff: .venv/bin/aftercare escalations list   (alerts: clinic/settings.yml)\n"
            f"  Website chat:       {demo.url}   (demo clinic page; open it in a browser)\n"
            f"                       widget tag for the clinic's site: {widget_tag(bot_url)}\n"
            f"{_telegram_line(telegram, rasa_port)}"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            if notifier.poll() is not None:
                # Alerts are in the database: restarting the notifier loses nothing, and the
                # bot keeps answering (and screening) meanwhile.
                print(
                    f"The alert notifier stopped (exit {notifier.returncode}); restarting it.",
                    file=sys.stderr,
                )
                time.sleep(5)
                notifier = subprocess.Popen(
                    notifier_cmd, cwd=settings.project_dir, env=notifier_env
                )
            for name, proc in (("action server", actions.process), ("Rasa", rasa)):
                if proc is not None and proc.poll() is not None:
                    print(
                        f"The {name} stopped (exit {proc.returncode}); stopping.", file=sys.stderr
                    )
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping...")
        return 0
    except HarnessError as exc:
        print(f"Could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        if notifier is not None and notifier.poll() is None:
            notifier.terminate()
            try:
                notifier.wait(timeout=15)
            except subprocess.TimeoutExpired:
                notifier.kill()
        if rasa is not None and rasa.poll() is None:
            rasa.send_signal(signal.SIGINT)
            try:
                rasa.wait(timeout=15)
            except subprocess.TimeoutExpired:
                rasa.kill()
        actions.stop()
        demo.stop()
