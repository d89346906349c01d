"""Proactive check-ins (issue 16): the due-table and the opt-outs.

Revision ID: 0006_checkins
Revises: 0005_staff_inbox
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_checkins"
down_revision = "0005_staff_inbox"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("treatment_date", sa.Date(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("until", TZ, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TZ, nullable=True),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_at", TZ, nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("sender_id", "key", "treatment_date", name="uq_checkins_once"),
    )
    op.create_index(op.f("ix_checkins_sender_id"), "checkins", ["sender_id"])
    op.create_index(op.f("ix_checkins_due_at"), "checkins", ["due_at"])
    op.create_index(op.f("ix_checkins_status"), "checkins", ["status"])
    op.create_table(
        "checkin_optouts",
        sa.Column("subject", sa.String(length=160), nullable=False),
        sa.Column("by", sa.String(length=16), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_checkin_optouts")),
    )


def downgrade() -> None:
    op.drop_table("checkin_optouts")
    op.drop_index(op.f("ix_checkins_status"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_due_at"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_sender_id"), table_name="checkins")
    op.drop_table("checkins")
