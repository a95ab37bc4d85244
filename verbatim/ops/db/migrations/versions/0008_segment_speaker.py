"""Corrections: a segment given to another speaker (``kind = 'segment_speaker'``) is one more kind of row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_transcript_edits_kind"


def _kinds(kinds: str) -> None:
    # batch mode: SQLite cannot alter a constraint in place, it copies the table (PostgreSQL alters it)
    with op.batch_alter_table("transcript_edits") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, f"kind IN ({kinds})")


def upgrade() -> None:
    _kinds("'word', 'speaker', 'segment_speaker'")


def downgrade() -> None:
    op.execute("DELETE FROM transcript_edits WHERE kind = 'segment_speaker'")
    _kinds("'word', 'speaker'")
