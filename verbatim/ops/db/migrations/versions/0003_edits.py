"""Transcript corrections (word texts, speaker names), the search index, audio tickets (web pages).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "transcript_edits",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("word_index", sa.Integer(), nullable=True),
        sa.Column("speaker", sa.String(64), nullable=True),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("revision_sha256", sa.String(64), nullable=True),
        sa.CheckConstraint("kind IN ('word', 'speaker')", name="ck_transcript_edits_kind"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_transcript_edits_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_transcript_edits_user_id_users", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_transcript_edits"),
    )
    op.create_index("ix_transcript_edits_job_id", "transcript_edits", ["job_id"])

    op.create_table(
        "transcript_search",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_transcript_search_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name="pk_transcript_search"),
    )
    op.create_index("ix_transcript_search_unit", "transcript_search", ["unit"])

    op.create_table(
        "media_tickets",
        sa.Column("ticket_hash", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_media_tickets_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_media_tickets_user_id_users", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("ticket_hash", name="pk_media_tickets"),
    )
    op.create_index("ix_media_tickets_job_id", "media_tickets", ["job_id"])
    op.create_index("ix_media_tickets_expires_at", "media_tickets", ["expires_at"])


def downgrade() -> None:
    op.drop_table("media_tickets")
    op.drop_table("transcript_search")
    op.drop_table("transcript_edits")
