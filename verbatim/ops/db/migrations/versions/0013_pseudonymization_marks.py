"""Corrections: a span marked or unmarked by hand for the pseudonymised copies (``kind = 'mark'`` or
``'unmark'``), over ``word_count`` words from ``word_index`` (the column migration 0012 added).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_transcript_edits_kind"
OLD = "'word', 'speaker', 'segment_speaker', 'span', 'split', 'merge', 'times', 'translation', 'revert'"
NEW = f"{OLD}, 'mark', 'unmark'"


def upgrade() -> None:
    # batch mode: SQLite cannot alter a constraint in place, it copies the table (PostgreSQL alters it)
    with op.batch_alter_table("transcript_edits") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, f"kind IN ({NEW})")


def downgrade() -> None:
    op.execute("DELETE FROM transcript_edits WHERE kind IN ('mark', 'unmark')")
    with op.batch_alter_table("transcript_edits") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, f"kind IN ({OLD})")
