"""Known voices enrolled by the workers: a voice is ``pending`` until a worker made its print, then ``ready``
or ``failed`` (``error``: the error code); its model and seconds of speech are unknown while pending.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot change a column's nullability in place, it copies the table
    with op.batch_alter_table("voices") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="ready"))
        batch.add_column(sa.Column("error", sa.String(32), nullable=True))
        batch.alter_column("model_sha256", existing_type=sa.String(64), nullable=True)
        batch.alter_column("speech_seconds", existing_type=sa.Float(), nullable=True)
        batch.create_check_constraint("ck_voices_status", "status IN ('pending', 'ready', 'failed')")


def downgrade() -> None:
    op.execute("DELETE FROM voices WHERE status <> 'ready'")
    with op.batch_alter_table("voices") as batch:
        batch.drop_constraint("ck_voices_status", type_="check")
        batch.alter_column("speech_seconds", existing_type=sa.Float(), nullable=False)
        batch.alter_column("model_sha256", existing_type=sa.String(64), nullable=False)
        batch.drop_column("error")
        batch.drop_column("status")
