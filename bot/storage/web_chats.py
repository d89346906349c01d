"""Widget chats that were given a signed token: from then on, only a signed token opens them.

Before tokens were signed, a browser held a bare random token; `/session` exchanges one for a
signed token of the same chat once. Recording each chat that got a signed token stops the
chat part of a signed token (expired, or signed with an old key) from being sent as a "bare"
one to open the chat again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.domain.days import now_utc
from bot.storage.models import WebChatRow


class SignedChats:
    """The widget chats given a signed token; one session per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def signed(self, conversation_id: str) -> bool:
        """Whether the chat was ever given a signed token."""
        with self._sessions() as session:
            return session.get(WebChatRow, conversation_id) is not None

    def mark(self, conversation_id: str, now: datetime | None = None) -> None:
        """Record that the chat was given a signed token (once; a second call does nothing)."""
        if self.signed(conversation_id):
            return
        try:
            with self._sessions.begin() as session:
                session.add(WebChatRow(conversation_id=conversation_id, signed_at=now or now_utc()))
        except IntegrityError:
            pass  # another request recorded it first

    def forget(self, conversation_id: str) -> None:
        """Drop the chat's record (the chat itself is being deleted)."""
        with self._sessions.begin() as session:
            session.execute(delete(WebChatRow).where(WebChatRow.conversation_id == conversation_id))
