"""Encryption at rest of the database: sealed columns as text, and the keyed trigram search index.

With encryption at rest on, file names, options (hide list...), legal hold references, corrections and the
search table's text are sealed (AES-256-GCM, :mod:`verbatim.ops.db.sealed`): a sealed value is longer than
its clear text, and is not JSON. On PostgreSQL those columns become ``TEXT`` (``jobs.options`` from
``JSONB``); SQLite does not enforce ``VARCHAR`` lengths and keeps ``JSON`` as text, so nothing changes there
(changing a column type means copying the jobs table, whose drop would cascade to its children).

``transcript_trigrams`` holds the keyed hashes of each job's trigrams, for a search without clear text. On
PostgreSQL the pg_trgm index of migration 0005 keeps only the rows in clear (a partial index): the
trigrams of ciphertext would cost every write and serve no search.

Rows already there stay as they are here: a migration has no key. The service seals them at its next start
with encryption on (:func:`verbatim.ops.db.sealed.seal_rows`, idempotent, run by
:func:`verbatim.jobs.service.open_service` when it migrates: `verbatim serve`, and every CLI command that
opens the database).
Downgrading needs the values in clear (``jobs.options`` back to ``JSONB``): turn encryption off first is not
enough, sealed values stay sealed; restore a backup instead.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# verbatim.ops.db.TRIGRAM_INDEX (a migration imports no model)
TRGM = "ix_transcript_search_text_trgm"


def _trgm_index(where: str) -> None:
    """Make migration 0005's pg_trgm index again with ``where`` (where the extension is installed)."""
    bind = op.get_bind()
    schema = bind.execute(
        sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    ).scalar()
    if schema is None:
        return  # no extension, no index (migration 0005 said so)
    op.execute(f"DROP INDEX IF EXISTS {TRGM}")
    op.execute(f'CREATE INDEX {TRGM} ON transcript_search USING gin (text "{schema}".gin_trgm_ops){where}')


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # sealed text is ciphertext: indexing its trigrams would cost every write and serve no search
        _trgm_index(" WHERE text NOT LIKE 'vb1:%'")
        op.alter_column("jobs", "filename", type_=sa.Text(), existing_type=sa.String(512))
        op.alter_column("jobs", "legal_hold_reference", type_=sa.Text(), existing_type=sa.String(128))
        op.execute("ALTER TABLE jobs ALTER COLUMN options TYPE TEXT USING options::text")
        op.alter_column("transcript_edits", "speaker", type_=sa.Text(), existing_type=sa.String(64))
    op.create_table(
        "transcript_trigrams",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("h", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_transcript_trigrams_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "h", name="pk_transcript_trigrams"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_transcript_trigrams_h_unit", "transcript_trigrams", ["h", "unit"])


def downgrade() -> None:
    op.drop_index("ix_transcript_trigrams_h_unit", table_name="transcript_trigrams")
    op.drop_table("transcript_trigrams")
    if op.get_bind().dialect.name == "postgresql":
        _trgm_index("")
        op.alter_column("transcript_edits", "speaker", type_=sa.String(64), existing_type=sa.Text())
        op.execute("ALTER TABLE jobs ALTER COLUMN options TYPE JSONB USING options::jsonb")
        op.alter_column("jobs", "legal_hold_reference", type_=sa.String(128), existing_type=sa.Text())
        op.alter_column("jobs", "filename", type_=sa.String(512), existing_type=sa.Text())
