"""The editor's operations: a span of words replaced, a turn split or merged, times adjusted, a segment
re-translated, a correction reverted (``kind``), with the columns they need: ``word_count`` (the words a span
covers), ``other_segment_id`` (the turn a split creates or a merge absorbs), ``reverts`` (the row a revert
cancels).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_transcript_edits_kind"
OLD = "'word', 'speaker', 'segment_speaker'"
NEW = f"{OLD}, 'span', 'split', 'merge', 'times', 'translation', 'revert'"


def upgrade() -> None:
    # batch mode: SQLite cannot alter a constraint in place, it copies the table (PostgreSQL alters it)
    with op.batch_alter_table("transcript_edits") as batch:
        batch.add_column(sa.Column("word_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("other_segment_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("reverts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, f"kind IN ({NEW})")


def downgrade() -> None:
    op.execute(f"DELETE FROM transcript_edits WHERE kind NOT IN ({OLD})")
    with op.batch_alter_table("transcript_edits") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, f"kind IN ({OLD})")
        batch.drop_column("reverts")
        batch.drop_column("other_segment_id")
        batch.drop_column("word_count")
