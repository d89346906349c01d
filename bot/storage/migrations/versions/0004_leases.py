"""Leases for jobs one process at a time may do (issue 14: one poller of each Telegram bot).

Revision ID: 0004_leases
Revises: 0003_web_chats
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_leases"
down_revision = "0003_web_chats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
