"""`aftercare chat`: talk to the bot in a terminal, without any channel.

With `--url` it talks to a running Rasa server over its REST channel (what `make run` starts);
otherwise it loads the model and an action server itself.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import httpx

from bot.serve.harness import LocalBot, run_async
from bot.settings import Settings

PROMPT = "you> "


def register(sub) -> None:
    """Add `chat`."""
    command = sub.add_parser("chat", help="chat with the bot in this terminal")
    command.add_argument(
        "--url", help="a running Rasa server (e.g. http://127.0.0.1:5005); default: in-process"
    )
    command.add_argument(
        "--sender", default="terminal-user", help="conversation id (default: terminal-user)"
    )
    command.set_defaults(func=chat_command)


def chat_command(settings: Settings, args: argparse.Namespace) -> int:
    """Chat until EOF, Ctrl-C or /quit."""
    return chat(settings, args.url, args.sender)


def _show(messages: list[dict[str, Any]]) -> list[str]:
    payloads = []
    for message in messages:
        if message.get("text"):
            print("bot> " + message["text"].replace("\n", "\n     "))
        for number, button in enumerate(message.get("buttons") or [], start=1):
            print(f"     [{number}] {button.get('title')}")
            payloads.append(button.get("payload"))
    return payloads


def _lines():
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            return
        yield line


def _is_up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def chat(settings: Settings, url: str | None, sender: str) -> int:
    """Run the terminal chat until EOF, Ctrl-C or /quit."""
    bot: LocalBot | None = None
    if url is None and _is_up(settings.rasa_url):
        url = settings.rasa_url
        print(f"Using the running bot at {url}", file=sys.stderr)
    if url is None:
        print("Loading the model and the action server (a few seconds)...", file=sys.stderr)
        bot = LocalBot(settings)
        bot.start()
    print("Chatting as", sender, "- type /quit to leave.\n")
    payloads: list[str] = []
    try:
        for line in _lines():
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            if text.isdigit() and 0 < int(text) <= len(payloads):
                text = payloads[int(text) - 1]
            if bot is not None:
                messages = run_async(bot.send(sender, text))
            else:
                response = httpx.post(
                    f"{url.rstrip('/')}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text},
                    timeout=30,
                )
                response.raise_for_status()
                messages = response.json()
            payloads = _show(messages)
    except KeyboardInterrupt:
        print()
    finally:
        if bot is not None:
            bot.stop()
    return 0
