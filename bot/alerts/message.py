"""What a staff alert says: client, day, level, message, symptoms. No links, no data leaks.

Every word staff read comes from the clinic's phrases (`staff.*` in
`clinic/knowledge/phrases.yml`).
"""

from __future__ import annotations

from bot.kb.model import Clinic
from bot.storage.outbox import Delivery

MAX_MESSAGE_CHARS = 1500  # Telegram refuses texts over 4096 characters
TITLE_KEYS = {"alert": "title_alert", "realert": "title_realert"}


class AlertWords:
    """The clinic's staff phrases, filled in."""

    def __init__(self, clinic: Clinic):
        self.clinic = clinic
        self._values = clinic.settings.placeholders()

    def say(self, key: str, **values: object) -> str:
        """The phrase `staff.<key>` with the clinic's values and `values` filled in."""
        return self.clinic.kb.phrase(f"staff.{key}").format(**self._values, **values)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " [...]"


def _day(delivery: Delivery, words: AlertWords) -> str:
    day = delivery.escalation.day
    return words.say("day_unknown") if day is None else words.say("day", day=day)


def alert_subject(delivery: Delivery, words: AlertWords) -> str:
    """A one-line subject (e-mail) or heading (chat)."""
    e = delivery.escalation
    key = (
        "title_photo"
        if delivery.photo is not None
        else TITLE_KEYS.get(delivery.purpose, "title_alert")
    )
    return words.say(
        "subject",
        level=e.level.upper(),
        title=words.say(key),
        id=e.id,
        client=e.client_name or e.sender_id,
        day=_day(delivery, words),
    )


def alert_text(delivery: Delivery, words: AlertWords) -> str:
    """The alert body for people (Telegram, e-mail)."""
    e = delivery.escalation
    lines = [
        alert_subject(delivery, words),
        words.say("client", client=e.client_name or e.sender_id),
        words.say(
            "treatment",
            treatment_date=e.treatment_date or words.say("date_unknown"),
            kind=e.treatment_kind or words.say("kind_unknown"),
            day=_day(delivery, words),
        ),
        words.say("level", level=e.level),
        words.say("symptoms", symptoms=", ".join(e.symptoms) or words.say("no_symptoms")),
        words.say("message", message=_clip(e.message or "-")),
        words.say("raised", raised=f"{e.created_at:%Y-%m-%d %H:%M}"),
    ]
    if delivery.photo is not None:
        lines.append(
            words.say(
                "photo",
                photo_id=delivery.photo.id,
                content_type=delivery.photo.content_type,
                id=e.id,
            )
        )
    lines.append(words.say("acknowledge_how", id=e.id))
    return "\n".join(lines)


def alert_payload(delivery: Delivery, words: AlertWords) -> dict:
    """The alert as JSON (webhooks)."""
    e = delivery.escalation
    return {
        "type": "aftercare.escalation",
        "purpose": delivery.purpose,
        "id": e.id,
        "level": e.level,
        "client": e.client_name or e.sender_id,
        "treatment_date": e.treatment_date.isoformat() if e.treatment_date else None,
        "treatment_kind": e.treatment_kind,
        "day": e.day,
        "symptoms": e.symptoms,
        "message": e.message,
        "created_at": e.created_at.isoformat(),
        "photo": (
            {"id": delivery.photo.id, "content_type": delivery.photo.content_type}
            if delivery.photo is not None
            else None
        ),
        "text": alert_text(delivery, words),
    }
