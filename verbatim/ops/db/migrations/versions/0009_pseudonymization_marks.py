"""Corrections: a span marked or unmarked by hand for the pseudonymised copies (``kind = 'mark'`` or
``'unmark'``), over ``word_count`` words from ``word_index``.

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

NAME = "ck_transcript_edits_kind"


def upgrade() -> None:
    # batch mode: SQLite cannot alter a constraint in place, it copies the table (PostgreSQL alters it)
    with op.batch_alter_table("transcript_edits") as batch:
        batch.add_column(sa.Column("word_count", sa.Integer(), nullable=True))
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(
            NAME, "kind IN ('word', 'speaker', 'segment_speaker', 'mark', 'unmark')"
        )


def downgrade() -> None:
    op.execute("DELETE FROM transcript_edits WHERE kind IN ('mark', 'unmark')")
    with op.batch_alter_table("transcript_edits") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, "kind IN ('word', 'speaker', 'segment_speaker')")
        batch.drop_column("word_count")
