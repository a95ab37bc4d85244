"""Job shares: another unit's read access to a job's pseudonymised copy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_shares",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_shares_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_job_shares_created_by_users", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_shares"),
        sa.UniqueConstraint("job_id", "unit", name="uq_job_shares_job_id_unit"),
    )
    op.create_index("ix_job_shares_job_id", "job_shares", ["job_id"])
    op.create_index("ix_job_shares_unit", "job_shares", ["unit"])


def downgrade() -> None:
    op.drop_index("ix_job_shares_unit", table_name="job_shares")
    op.drop_index("ix_job_shares_job_id", table_name="job_shares")
    op.drop_table("job_shares")
