"""The staff inbox (issue 15): staff accounts and sessions, login failures, hand-offs, staff
replies and notes, the audit log, and anonymous turn statistics for the overview.

Revision ID: 0005_staff_inbox
Revises: 0004_leases
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_staff_inbox"
down_revision = "0004_leases"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    _accounts()
    _handoffs()
    _audit_and_stats()


def _accounts() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("name", name=op.f("uq_staff_name")),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_sessions_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_name"), "login_failures", ["name"])
    op.create_index(op.f("ix_login_failures_address"), "login_failures", ["address"])


def _handoffs() -> None:
    op.create_table(
        "handoffs",
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("owner_name", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", TZ, nullable=False),
        sa.Column("active_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_handoffs_staff_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_handoffs")),
    )
    op.create_table(
        "staff_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("staff_name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_messages_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_messages")),
    )
    op.create_index(op.f("ix_staff_messages_sender_id"), "staff_messages", ["sender_id"])


def _audit_and_stats() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("staff_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=True),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_sender_id"), "audit_log", ["sender_id"])
    op.create_table(
        "turn_stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn_stats")),
    )
    op.create_index(op.f("ix_turn_stats_at"), "turn_stats", ["at"])


def downgrade() -> None:
    for table in ("turn_stats", "audit_log", "staff_messages", "handoffs"):
        op.drop_table(table)
    op.drop_table("login_failures")
    op.drop_table("staff_sessions")
    op.drop_table("staff")
