"""Inbound messages, recorded before a channel acknowledges them (issue 14).

Revision ID: 0002_inbound
Revises: 0001_baseline
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_inbound"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound")),
        sa.UniqueConstraint("channel", "external_id", name="uq_inbound_delivery"),
    )
    op.create_index(op.f("ix_inbound_sender_id"), "inbound", ["sender_id"], unique=False)
    op.create_index(op.f("ix_inbound_state"), "inbound", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_state"), table_name="inbound")
    op.drop_index(op.f("ix_inbound_sender_id"), table_name="inbound")
    op.drop_table("inbound")
