"""Alembic's environment for our tables: run on the connection `bot.storage.schema` passes
in (never from an URL in a file), against the models' metadata (its naming convention)."""

from alembic import context

from bot.storage.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying a table
)
with context.begin_transaction():
    context.run_migrations()
