"""Retention: per-unit periods, legal hold and the purge mark of recordings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("legal_hold_reference", sa.String(128), nullable=True))
        batch.add_column(sa.Column("original_purged_at", TIMESTAMP, nullable=True))
    op.create_table(
        "retention_policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("unit", "kind", name="uq_retention_policies_unit_kind"),
        sa.CheckConstraint("kind IN ('recording', 'transcript')", name="ck_retention_policies_kind"),
        sa.CheckConstraint("days > 0", name="ck_retention_policies_days"),
        sa.PrimaryKeyConstraint("id", name="pk_retention_policies"),
    )


def downgrade() -> None:
    op.drop_table("retention_policies")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("original_purged_at")
        batch.drop_column("legal_hold_reference")
        batch.drop_column("legal_hold")
