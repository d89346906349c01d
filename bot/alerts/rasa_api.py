"""Rasa's HTTP API (`--enable-api`, bound to 127.0.0.1): how the alert worker and the staff
inbox write into a client's conversation from outside a turn, and read it back."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)
STAFF_EVENT_ACTION = "action_staff_event"  # says in the client's chat what a team member did
# Opening a hand-off closes any question the bot was in the middle of (the date form).
STOP_FORM = [{"event": "active_loop", "name": None}]
LISTEN = {"event": "action", "name": "action_listen"}
# Conversation-id prefixes of channels that can message a client unprompted.
PUSH_CHANNELS = {"telegram-": "telegram"}


class NotDelivered(RuntimeError):
    """Rasa ran the action, but the client's channel could not take the message."""


def push_channel(sender_id: str) -> str | None:
    """The channel that can reach this conversation unprompted (Telegram), if any."""
    return next((c for p, c in PUSH_CHANNELS.items() if sender_id.startswith(p)), None)


class RasaConversations:
    """One client for Rasa's conversation API."""

    def __init__(self, rasa_url: str, timeout: float = 15):
        self.rasa_url, self.timeout = rasa_url.rstrip("/"), timeout

    def _conversation(self, sender_id: str) -> str:
        return f"{self.rasa_url}/conversations/{quote(sender_id, safe='')}"

    async def run_action(
        self, sender_id: str, action: str, slots: dict[str, Any], extra_events: list | None = None
    ) -> list[dict]:
        """Set `slots` and run `action` in the conversation; its messages go to the client's
        channel (Telegram by name, so they arrive even if the client last wrote elsewhere;
        otherwise the one last used: the widget reads them from the conversation). Raises
        NotDelivered when a Telegram chat's channel is not running."""
        conversation = self._conversation(sender_id)
        pushing = push_channel(sender_id)
        events = [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            # 1. Let Rasa start a new session first if the old one expired (a new session
            #    resets slots: done after step 2, it would wipe them).
            response = await client.post(
                f"{conversation}/execute?output_channel=collector", json={"name": "action_listen"}
            )
            if response.status_code == 404:  # a chat Rasa has not seen (linked, never written
                # in): appending events creates it, with its first session
                created = await client.post(f"{conversation}/tracker/events", json=[LISTEN])
                created.raise_for_status()
                response = await client.post(
                    f"{conversation}/execute?output_channel=collector",
                    json={"name": "action_listen"},
                )
            response.raise_for_status()
            response = await client.post(
                f"{conversation}/tracker/events", json=(extra_events or []) + events
            )
            response.raise_for_status()
            response = await client.post(
                f"{conversation}/execute?output_channel={pushing or 'latest'}",
                json={"name": action},
            )
            response.raise_for_status()
            # 3. End listening, like every turn does: otherwise the rules cannot tell the
            #    client's next message from this one and Rasa runs its answer up to 10 times.
            listen = await client.post(
                f"{conversation}/execute?output_channel=collector", json={"name": "action_listen"}
            )
            listen.raise_for_status()
        messages = response.json().get("messages") or []
        if pushing and messages:
            # Rasa collected the reply instead of sending it: the channel is not running.
            raise NotDelivered(f"the {pushing} channel is not running; the message was not sent")
        return messages

    async def events(self, sender_id: str) -> list[dict]:
        """Every event of the conversation (empty for one Rasa has never seen)."""
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.get(
                f"{self._conversation(sender_id)}/tracker", params={"include_events": "ALL"}
            )
            response.raise_for_status()
        return response.json().get("events") or []

    async def staff_event(
        self, sender_id: str, kind: str, staff_name: str, text: str = "", events=None
    ) -> bool:
        """Say in the client's chat what a team member did (joined, reply, left, resolved,
        idle); False if it could not be delivered (logged by kind only, never the words)."""
        event = {"kind": kind, "staff_name": staff_name, "text": text}
        try:
            await self.run_action(
                sender_id, STAFF_EVENT_ACTION, {"staff_event": event}, extra_events=events
            )
            return True
        except Exception as exc:  # noqa: BLE001 - the caller tells staff it failed
            log.warning(
                "Could not write a staff %s into a client's chat (%s)", kind, type(exc).__name__
            )
            return False
