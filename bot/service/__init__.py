"""The aftercare service: what the Rasa actions and the channels call (one `Turn` per message)."""

from bot.service.core import AftercareService, LinkOutcome, get_service
from bot.service.messages import (
    DateNotUnderstood,
    DateSaved,
    Incoming,
    NeedsDate,
    Outcome,
    Reply,
)

__all__ = [
    "AftercareService",
    "DateNotUnderstood",
    "DateSaved",
    "Incoming",
    "LinkOutcome",
    "NeedsDate",
    "Outcome",
    "Reply",
    "get_service",
]
