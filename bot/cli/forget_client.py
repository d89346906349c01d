"""`aftercare clients forget ID`: erase a client who asks by phone or at the desk.

Deletes every chat linked to the client (Rasa's conversation, messages, photos, treatment
link) and the client's record and link codes; escalations keep only their clinical facts
(`bot.storage.forget`). While the bot runs, the running Rasa does it (`bot.channels.control`),
so a turn in flight cannot write the conversation back; while it is stopped, this command
does it in the databases itself.
"""

from __future__ import annotations

import argparse
import json
import sys

import httpx
from sqlalchemy.orm import sessionmaker

from bot.channels.control import (
    SIGNATURE_HEADER,
    ClientForgotten,
    control_key,
    registration,
    signed_request,
)
from bot.settings import Settings
from bot.storage.clients import Client, ClientRegistry
from bot.storage.engine import session_factory, tracker_engine
from bot.storage.forget import delete_stored_events, forget_in_database
from bot.storage.heartbeats import NOTIFIER, Heartbeats

RUNNING_WITHIN_SECONDS = 60  # a notifier heartbeat this fresh means a bot runs on this database


def register(clients_sub: argparse._SubParsersAction) -> None:
    """Add `clients forget`."""
    forget = clients_sub.add_parser(
        "forget", help="delete a client, every chat linked to them, their messages and photos"
    )
    forget.add_argument("id", type=int)
    forget.add_argument("--yes", action="store_true", help="do not ask to confirm")
    forget.add_argument("--url", help="the running Rasa server (default: AFTERCARE_RASA_URL)")
    forget.add_argument("--json", action="store_true", help="print one JSON object")
    forget.set_defaults(func=forget_command)


def forget_command(settings: Settings, args: argparse.Namespace) -> int:
    """Confirm, then forget the client through the running bot or, if it is stopped, here."""
    sessions = session_factory(settings.database_url)
    registry = ClientRegistry(sessions)
    client = registry.get(args.id)
    if client is None:
        print(f"aftercare: no client #{args.id} (see `aftercare clients list`)", file=sys.stderr)
        return 1
    chats = registry.conversations_of(client.id)
    if not args.yes and not _confirmed(client.id, client.name, len(chats)):
        print("aftercare: nothing deleted", file=sys.stderr)
        return 1
    url = (args.url or settings.rasa_url).rstrip("/")
    try:
        done = _through_rasa(settings, url, client)
    except httpx.ConnectError:
        if Heartbeats(sessions).alive(NOTIFIER, RUNNING_WITHIN_SECONDS):
            print(
                f"aftercare: the bot runs on this database but not at {url}; pass its --url",
                file=sys.stderr,
            )
            return 1
        done = _here(settings, sessions, client.id)
    except (httpx.HTTPError, RuntimeError) as error:
        print(f"aftercare: {error}; it may be partly done: run the command again", file=sys.stderr)
        return 1
    if done is None:
        return 1
    _report(done, args.json)
    return 0


def _confirmed(client_id: int, name: str, chats: int) -> bool:
    """Ask at the terminal; never assume yes when nobody can answer."""
    if not sys.stdin.isatty():
        print("aftercare: not a terminal: pass --yes to confirm", file=sys.stderr)
        return False
    answer = input(f"Delete client #{client_id} ({name}) and {chats} chat(s)? Type {client_id}: ")
    return answer.strip() == str(client_id)


def _through_rasa(settings: Settings, url: str, client: Client) -> ClientForgotten:
    """Ask the running Rasa (raises httpx.ConnectError when nothing listens there)."""
    body, signature = signed_request(control_key(settings), client.id, registration(client))
    response = httpx.post(
        f"{url}/webhooks/control/forget-client",
        content=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        timeout=120,
    )
    if response.status_code != 200:
        raise RuntimeError(f"the bot at {url} answered {response.status_code}")
    return ClientForgotten(**response.json())


def _here(settings: Settings, sessions: sessionmaker, client_id: int) -> ClientForgotten | None:
    """The bot is stopped: delete from both databases directly, Rasa's events first (so a
    failure leaves the client's links in place for a second run)."""
    registry = ClientRegistry(sessions)
    tracker = tracker_engine(settings.tracker_db, settings.tracker_url)
    if registry.conversations_of(client_id) and tracker is None:
        print(
            f"aftercare: Rasa's conversations are not at {settings.tracker_db} (set"
            " AFTERCARE_TRACKER_DB or AFTERCARE_TRACKER_URL as the bot has them); nothing deleted",
            file=sys.stderr,
        )
        return None
    registry.revoke_codes(client_id)
    chats = registry.conversations_of(client_id)
    redacted = 0
    try:
        for chat in chats:
            delete_stored_events(tracker, chat)
            redacted += forget_in_database(sessions, chat)[0]
    finally:
        if tracker is not None:
            tracker.dispose()
    existed = registry.delete(client_id) or bool(chats)
    return ClientForgotten(client_id, existed, len(chats), redacted)


def _report(done: ClientForgotten, as_json: bool) -> None:
    """One line for staff, or the JSON object of `--json`."""
    if as_json:
        print(json.dumps(done.__dict__))
        return
    print(
        f"Forgot client #{done.client}: {done.conversations} chat(s) deleted, "
        f"{done.escalations_redacted} escalation(s) kept without text or name"
    )
