"""What a staff alert says: client, day, level, message, symptoms. No links, no data leaks."""

from __future__ import annotations

from bot.escalations import Delivery

MAX_MESSAGE_CHARS = 1500  # Telegram refuses texts over 4096 characters


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " [...]"


TITLES = {"alert": "Aftercare alert", "realert": "NOT ACKNOWLEDGED - aftercare alert"}


def alert_subject(delivery: Delivery) -> str:
    """A one-line subject (e-mail) or heading (chat)."""
    e = delivery.escalation
    day = "day unknown" if e.day is None else f"day {e.day}"
    title = TITLES.get(delivery.purpose, "Aftercare alert")
    if delivery.photo is not None:
        title = "Photo from client"
    return f"[{e.level.upper()}] {title} #{e.id}: {e.client_name or e.sender_id}, {day}"


def alert_text(delivery: Delivery) -> str:
    """The alert body for people (Telegram, e-mail)."""
    e = delivery.escalation
    lines = [
        alert_subject(delivery),
        f"Client: {e.client_name or e.sender_id}",
        f"Treatment: {e.treatment_date or 'date unknown'} ({e.treatment_kind or 'kind unknown'}), {'day unknown' if e.day is None else 'day ' + str(e.day)}",
        f"Level: {e.level}",
        f"Symptoms: {', '.join(e.symptoms) or 'none detected'}",
        f"Message: {_clip(e.message or '-')}",
        f"Raised: {e.created_at:%Y-%m-%d %H:%M} UTC",
        *(
            [
                f"Photo #{delivery.photo.id} ({delivery.photo.content_type}): `aftercare escalations photos {e.id}`"
            ]
            if delivery.photo is not None
            else []
        ),
        f"Acknowledge: the button below, or `aftercare escalations ack {e.id}`",
    ]
    return "\n".join(lines)


def alert_payload(delivery: Delivery) -> dict:
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
        "text": alert_text(delivery),
    }
