"""What the inbox pages show, built from storage and Rasa's events: the queue's items and a
conversation's transcript. No words here: the templates hold them."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo

from bot.alerts.checkins import CHECKIN_SLOT
from bot.alerts.rasa_api import push_channel
from bot.channels.web.format import SENDER_PREFIX
from bot.domain.days import as_utc
from bot.kb.checkins import ANSWER_MEANINGS, CheckinSettings
from bot.kb.model import level_rank
from bot.storage.checkins import CheckinView
from bot.storage.escalations import FORGOTTEN, Escalation
from bot.storage.handoffs import Handoff, StaffMessage

VIEWS = ("open", "mine", "acknowledged", "resolved")
STAFF_REPLY_KEY = "handoff.staff_reply"
CHECKIN_KEY_PREFIX = "checkin."  # the response key of a check-in: checkin.<key>
# A check-in's quick reply as Rasa records it: "/checkin_<meaning>" (Telegram and the widget).
# bot.service.checkins.ANSWER_INTENT_PREFIX, not imported: bot.service loads TensorFlow.
QUICK_REPLY_PREFIX = "/checkin_"


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
    mark: str = ""  # checkin (a check-in the bot sent) | quick_reply (a button under one)
    day: int | None = None  # a check-in's treatment day


@dataclass(frozen=True)
class CheckinMarks:
    """What marks check-ins in a transcript: the treatment day of each sent one (by its row,
    else by the clinic's check-in of that key) and the quick replies' titles (meaning ->
    title, the clinic's words)."""

    days: dict[int, int] = field(default_factory=dict)
    settings: CheckinSettings = field(default_factory=CheckinSettings)

    @classmethod
    def of(cls, checkins: Iterable[CheckinView], settings: CheckinSettings) -> CheckinMarks:
        return cls({c.id: c.day for c in checkins}, settings)

    def day(self, row: int, key: str) -> int | None:
        if row in self.days:
            return self.days[row]
        ours = key.startswith(CHECKIN_KEY_PREFIX)
        item = self.settings.get(key.removeprefix(CHECKIN_KEY_PREFIX)) if ours else None
        return item.day if item is not None else None


def _client_line(event: dict, at: datetime, marks: CheckinMarks) -> Line:
    """A client's message: a button shows its title; a check-in's quick reply the clinic's
    title for its meaning (what the bot acted on), marked as one."""
    text, metadata = str(event["text"]), event.get("metadata") or {}
    web = metadata.get("web") if isinstance(metadata, dict) else None
    shown = web.get("title") if isinstance(web, dict) else None  # a button's title
    meaning = text.removeprefix(QUICK_REPLY_PREFIX) if text.startswith(QUICK_REPLY_PREFIX) else ""
    if meaning in ANSWER_MEANINGS:
        title = marks.settings.titles.get(meaning) or shown or text
        return Line("client", str(title), at, mark="quick_reply")
    return Line("client", str(shown or text), at)


def _bot_line(event: dict, at: datetime, marks: CheckinMarks) -> Line:
    """A bot message (or a staff reply sent through the bot); a check-in is marked with its
    treatment day."""
    metadata = event.get("metadata") or {}
    key = str(metadata.get("response_key") or "")
    line = Line(
        "staff" if key == STAFF_REPLY_KEY else "bot",
        str(event["text"]),
        at,
        key=key,
        level=str(metadata.get("escalation") or ""),
    )
    row = metadata.get(CHECKIN_SLOT)  # the due-table row: only a check-in carries one
    if isinstance(row, int) and not isinstance(row, bool):
        line.mark, line.day = "checkin", marks.day(row, key)
    return line


def transcript(
    events: list[dict],
    staff_messages: list[StaffMessage],
    zone: tzinfo = timezone.utc,
    marks: CheckinMarks | None = None,
) -> list[Line]:
    """Client, bot and staff messages from Rasa's events, with staff notes and undelivered
    staff replies from our database, in time order, on the clinic's clock (`zone`); check-ins
    and their quick replies marked (`marks`)."""
    marks = marks or CheckinMarks()

    def _at(event: dict) -> datetime:
        return datetime.fromtimestamp(float(event.get("timestamp") or 0), zone)

    lines: list[Line] = []
    answered: list[Line] = []  # bot lines of the current turn, to attach the KB entry to
    for event in events:
        kind = event.get("event")
        if kind == "user" and event.get("text"):
            answered = []
            lines.append(_client_line(event, _at(event), marks))
        elif kind == "bot" and event.get("text"):
            line = _bot_line(event, _at(event), marks)
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
