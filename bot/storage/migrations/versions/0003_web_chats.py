"""Widget chats that were given a signed token (issue 14).

Revision ID: 0003_web_chats
Revises: 0002_inbound
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_web_chats"
down_revision = "0002_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_chats",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_web_chats")),
    )


def downgrade() -> None:
    op.drop_table("web_chats")
