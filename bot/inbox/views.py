"""What the inbox pages show, built from storage and Rasa's events: the queue's items and a
conversation's transcript. No words here: the templates hold them."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo

from bot.alerts.rasa_api import push_channel
from bot.channels.web.format import SENDER_PREFIX
from bot.domain.days import as_utc
from bot.kb.model import level_rank
from bot.storage.escalations import FORGOTTEN, Escalation
from bot.storage.handoffs import Handoff, StaffMessage

VIEWS = ("open", "mine", "acknowledged", "resolved")
STAFF_REPLY_KEY = "handoff.staff_reply"


def conversation_key(sender_id: str) -> str:
    """A conversation id as it goes in a URL path (any character is safe this way)."""
    return base64.urlsafe_b64encode(sender_id.encode()).decode().rstrip("=")


def sender_of(key: str) -> str | None:
    """The conversation id of a URL key, or None for a key that is not one."""
    try:
        padded = key + "=" * (-len(key) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def channel_of(sender_id: str) -> str:
    """Where a conversation happens: telegram, web or other (REST, terminal)."""
    if push_channel(sender_id):
        return "telegram"
    return "web" if sender_id.startswith(SENDER_PREFIX) else "other"


@dataclass(frozen=True)
class QueueItem:
    """One line of the queue: an escalation, or a chat a team member took over without one."""

    sender_id: str
    key: str
    channel: str
    escalation: Escalation | None
    owner: Handoff | None
    failed: int = 0  # alert deliveries given up on

    @property
    def level(self) -> str:
        return self.escalation.level if self.escalation else "handoff"

    @property
    def since(self) -> datetime:
        return self.escalation.created_at if self.escalation else self.owner.claimed_at

    def sort_key(self) -> tuple:
        return (-level_rank(self.level) if self.escalation else 0, as_utc(self.since))


def queue_items(
    view: str,
    escalations: list[Escalation],
    handoffs: dict[str, Handoff],
    failed: dict[int, list],
    staff_id: int,
) -> list[QueueItem]:
    """The queue for a filter: most urgent first, then the longest waiting."""
    items = [
        QueueItem(
            e.sender_id,
            conversation_key(e.sender_id),
            channel_of(e.sender_id),
            e,
            handoffs.get(e.sender_id),
            len(failed.get(e.id, [])),
        )
        for e in escalations
        if e.sender_id != FORGOTTEN or view == "resolved"
    ]
    if view in ("open", "mine"):
        with_escalation = {i.sender_id for i in items}
        items += [
            QueueItem(h.sender_id, conversation_key(h.sender_id), channel_of(h.sender_id), None, h)
            for h in handoffs.values()
            if h.sender_id not in with_escalation
        ]
    if view == "mine":
        items = [i for i in items if i.owner is not None and i.owner.staff_id == staff_id]
    return sorted(items, key=QueueItem.sort_key)


@dataclass
class Line:
    """One line of a transcript."""

    kind: str  # client | bot | staff | note | notice | failed
    text: str
    at: datetime
    author: str = ""
    key: str = ""  # the KB phrase or entry a bot message came from
    level: str = ""  # the level a bot answer carried
    extras: dict = field(default_factory=dict)


def transcript(
    events: list[dict], staff_messages: list[StaffMessage], zone: tzinfo = timezone.utc
) -> list[Line]:
    """Client, bot and staff messages from Rasa's events, with staff notes and undelivered
    staff replies from our database, in time order, on the clinic's clock (`zone`)."""

    def _at(event: dict) -> datetime:
        return datetime.fromtimestamp(float(event.get("timestamp") or 0), zone)

    lines: list[Line] = []
    answered: list[Line] = []  # bot lines of the current turn, to attach the KB entry to
    for event in events:
        kind = event.get("event")
        if kind == "user" and event.get("text"):
            answered = []
            web = (event.get("metadata") or {}).get("web") or {}
            shown = web.get("title") if isinstance(web, dict) else None  # a button's title
            lines.append(Line("client", str(shown or event["text"]), _at(event)))
        elif kind == "bot" and event.get("text"):
            metadata = event.get("metadata") or {}
            key = str(metadata.get("response_key") or "")
            line = Line(
                "staff" if key == STAFF_REPLY_KEY else "bot",
                str(event["text"]),
                _at(event),
                key=key,
                level=str(metadata.get("escalation") or ""),
            )
            lines.append(line)
            answered.append(line)
        elif kind == "slot" and event.get("name") == "last_answer" and event.get("value"):
            record = event["value"]
            for line in answered:
                line.extras = {"entry": record.get("entry"), "topic": record.get("topic")}
                line.level = line.level or str(record.get("escalation") or "")
    for message in staff_messages:
        if message.kind == "note":
            at = message.created_at.astimezone(zone)
            lines.append(Line("note", message.text, at, message.staff_name))
        elif message.error:
            at = message.created_at.astimezone(zone)
            lines.append(Line("failed", message.text, at, message.staff_name))
    return sorted(lines, key=lambda line: as_utc(line.at))
