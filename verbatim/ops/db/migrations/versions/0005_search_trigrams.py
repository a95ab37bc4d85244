"""Search: a trigram index on the transcripts' searchable text (PostgreSQL with pg_trgm).

The job list's search is a substring match (``LIKE '%words%'`` on case- and accent-folded text); without an
index PostgreSQL reads every transcript of the unit. A GIN index with ``pg_trgm``'s operator class serves such
matches. Installing the extension needs the right to (``CREATE`` on the database; ``pg_trgm`` is a trusted
extension since PostgreSQL 13): where the database refuses, the migration leaves the search unindexed and says
so, rather than stopping an upgrade. SQLite has no such index: nothing changes there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# verbatim.ops.db.TRIGRAM_INDEX (a migration imports no model)
INDEX = "ix_transcript_search_text_trgm"
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # a refusal must not abort the upgrade's transaction
            # In "public": an extension belongs to the whole database, not to one schema of it.
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    except sa.exc.DBAPIError as e:
        log.warning(
            "pg_trgm could not be installed (%s): the transcript search works, without an index. A "
            "database administrator can add it: CREATE EXTENSION pg_trgm; CREATE INDEX %s ON "
            "transcript_search USING gin (text gin_trgm_ops);",
            type(e.orig).__name__,
            INDEX,
        )
        return
    # Where the extension is (an administrator may have installed it in another schema before).
    where = bind.execute(
        sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    ).scalar_one()
    op.execute(
        f'CREATE INDEX IF NOT EXISTS {INDEX} ON transcript_search USING gin (text "{where}".gin_trgm_ops)'
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
