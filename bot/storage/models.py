"""Every table of ours, in one place: one metadata with a naming convention, so every
index and constraint has a predictable name (what schema migrations refer to)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base

from bot.domain.days import now_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class Conversation(Base):
    """One client conversation (a channel's sender id) and its treatment."""

    __tablename__ = "conversations"

    sender_id = Column(String(128), primary_key=True)
    treatment_date = Column(Date, nullable=True)
    treatment_kind = Column(String(32), nullable=True)
    date_source = Column(String(32), nullable=True)  # "client" (told the bot) or "clinic"
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=now_utc, onupdate=now_utc)


class ClientRow(Base):
    """One registered treatment of a client."""

    __tablename__ = "clients"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(128), nullable=False)
    treatment_date = Column(Date, nullable=False)
    treatment_kind = Column(String(32), nullable=False)
    area = Column(String(64), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)


class LinkCodeRow(Base):
    """One link code of a client, stored as its SHA-256 only."""

    __tablename__ = "link_codes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    client_id = Column(
        Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    used_at = Column(DateTime(timezone=True), nullable=True)
    used_by = Column(String(128), nullable=True)  # the conversation that redeemed it
    revoked_at = Column(DateTime(timezone=True), nullable=True)


class ClientLinkRow(Base):
    """Which client a conversation belongs to (a conversation has at most one)."""

    __tablename__ = "client_links"

    conversation_id = Column(String(128), primary_key=True)
    client_id = Column(
        Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    channel = Column(String(32), nullable=False)
    linked_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)


class EscalationRow(Base):
    """One escalation record."""

    __tablename__ = "escalations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    client_name = Column(String(128), nullable=True)
    treatment_date = Column(Date, nullable=True)
    treatment_kind = Column(String(32), nullable=True)
    day = Column(Integer, nullable=True)
    level = Column(String(16), nullable=False)
    topic = Column(String(64), nullable=True)
    symptoms = Column(Text, nullable=False, default="[]")
    message = Column(Text, nullable=True)
    status = Column(String(16), nullable=False, default="open", index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    deadline_at = Column(DateTime(timezone=True), nullable=True)
    acknowledged_at = Column(DateTime(timezone=True), nullable=True)
    acknowledged_by = Column(String(128), nullable=True)
    resolved_at = Column(DateTime(timezone=True), nullable=True)
    realerted_at = Column(DateTime(timezone=True), nullable=True)


class EscalationPhotoRow(Base):
    """A photo a client sent, kept with their escalation for the clinic team."""

    __tablename__ = "escalation_photos"

    id = Column(Integer, primary_key=True, autoincrement=True)
    escalation_id = Column(
        Integer, ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    content_type = Column(String(64), nullable=False)
    data = Column(LargeBinary, nullable=False)
    caption = Column(Text, nullable=True)
    source = Column(String(32), nullable=False)  # the channel it came from
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)


class OutboxRow(Base):
    """One delivery to do: an escalation's alert (or re-alert, or client notice) on one channel."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("escalation_id", "channel", "purpose", name="uq_outbox_delivery"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    escalation_id = Column(
        Integer, ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    channel = Column(String(32), nullable=False)
    purpose = Column(String(32), nullable=False)  # alert, realert, ack_notice, deadline_notice
    status = Column(String(16), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    lease_until = Column(DateTime(timezone=True), nullable=True)
    last_error = Column(Text, nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    delivered_at = Column(DateTime(timezone=True), nullable=True)


class HeartbeatRow(Base):
    """The last sign of life of a background process (the alert notifier)."""

    __tablename__ = "heartbeats"

    name = Column(String(64), primary_key=True)
    beat_at = Column(DateTime(timezone=True), nullable=False)


class LeaseRow(Base):
    """A job one process at a time may do (`bot.storage.leases`): who holds it, until when
    (database time)."""

    __tablename__ = "leases"

    name = Column(String(64), primary_key=True)
    owner = Column(String(64), nullable=False)
    until = Column(DateTime(timezone=True), nullable=False)


class InboundRow(Base):
    """One client message as it arrived, recorded before the channel acknowledges it, until
    its turn is done (then its text is dropped). One whose process stopped renewing its lease
    (it died) is screened by the recovery path (`bot.channels.recovery`)."""

    __tablename__ = "inbound"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_inbound_delivery"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(32), nullable=False)
    external_id = Column(String(64), nullable=True)  # Telegram's update_id: a re-sent update
    sender_id = Column(String(128), nullable=False, index=True)
    address = Column(String(64), nullable=True)  # where a late reply goes (a Telegram chat)
    text = Column(Text, nullable=True)
    state = Column(String(16), nullable=False, default="received", index=True)
    owner = Column(String(64), nullable=True)  # the process answering it (or recovering it)
    lease_until = Column(DateTime(timezone=True), nullable=True)  # renewed while it lives
    received_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    done_at = Column(DateTime(timezone=True), nullable=True)


class WebChatRow(Base):
    """A widget chat that was given a signed token (`bot.channels.web.tokens`): the bare token
    its browser held before tokens were signed no longer opens it."""

    __tablename__ = "web_chats"

    conversation_id = Column(String(64), primary_key=True)
    signed_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)


class StaffRow(Base):
    """A clinic team member who can log in to the staff inbox (`aftercare staff add`)."""

    __tablename__ = "staff"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(64), nullable=False, unique=True)  # the login, shown to clients
    role = Column(String(16), nullable=False)  # staff | admin
    password_hash = Column(String(255), nullable=False)  # Argon2id
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    disabled_at = Column(DateTime(timezone=True), nullable=True)


class StaffSessionRow(Base):
    """A logged-in browser: the SHA-256 of its cookie, and its CSRF token."""

    __tablename__ = "staff_sessions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    staff_id = Column(Integer, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False)
    csrf = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False)


class LoginFailureRow(Base):
    """A failed login (name tried, and a hash of the address it came from), for rate limits."""

    __tablename__ = "login_failures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(64), nullable=False, index=True)
    address = Column(String(64), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False)


class HandoffRow(Base):
    """A conversation a person has taken over: the bot stays silent in it (it still screens)."""

    __tablename__ = "handoffs"

    sender_id = Column(String(128), primary_key=True)
    staff_id = Column(Integer, ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    owner_name = Column(String(64), nullable=False)
    claimed_at = Column(DateTime(timezone=True), nullable=False)
    active_at = Column(DateTime(timezone=True), nullable=False)  # claim or last staff reply


class StaffMessageRow(Base):
    """A staff reply sent into a client's chat, or a private note on it."""

    __tablename__ = "staff_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    staff_id = Column(Integer, ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    staff_name = Column(String(64), nullable=False)
    kind = Column(String(16), nullable=False)  # reply | note
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    sent_at = Column(DateTime(timezone=True), nullable=True)
    error = Column(String(255), nullable=True)


class AuditRow(Base):
    """Who did what in the staff inbox, and when: never the words of a reply or note."""

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    staff_name = Column(String(64), nullable=False)
    action = Column(String(32), nullable=False)
    sender_id = Column(String(128), nullable=True, index=True)
    escalation_id = Column(Integer, nullable=True)
    detail = Column(String(255), nullable=True)


class TurnStatRow(Base):
    """One answered client message for the staff overview: when, what topic, how it was
    answered. No conversation id and no words: nothing here identifies a client."""

    __tablename__ = "turn_stats"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    topic = Column(String(64), nullable=True)
    outcome = Column(String(32), nullable=False)  # answered | no_guidance | red_flag


class CheckinRow(Base):
    """One check-in due for a conversation's treatment (`bot.storage.checkins`): planned,
    claimed by the one dispatcher, then sent or skipped (and why); then its answer."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("sender_id", "key", "treatment_date", name="uq_checkins_once"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    key = Column(String(32), nullable=False)  # the check-in of clinic/checkins.yml
    treatment_date = Column(Date, nullable=False)
    day = Column(Integer, nullable=False)
    due_at = Column(DateTime(timezone=True), nullable=False, index=True)
    until = Column(DateTime(timezone=True), nullable=False)  # no longer useful after
    status = Column(String(16), nullable=False, default="pending", index=True)
    reason = Column(String(32), nullable=True)  # why it was skipped
    attempts = Column(Integer, nullable=False, default=0)
    lease_until = Column(DateTime(timezone=True), nullable=True)  # while being sent
    sent_at = Column(DateTime(timezone=True), nullable=True)
    late = Column(Boolean, nullable=False, default=False)
    answer = Column(String(16), nullable=True)  # fine | worried | wrong | text | none
    answered_at = Column(DateTime(timezone=True), nullable=True)
    escalated = Column(Boolean, nullable=False, default=False)  # the answer raised one
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)


class CheckinOptOutRow(Base):
    """Check-ins turned off: by a client for their conversation (`/stop`, the widget), or by
    the clinic for a client (`aftercare clients checkins ID off`)."""

    __tablename__ = "checkin_optouts"

    subject = Column(String(160), primary_key=True)  # "conversation:<id>" or "client:<id>"
    by = Column(String(16), nullable=False)  # client | clinic
    at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
