"""Alembic migrations of verbatim's database, run by :func:`verbatim.ops.db.upgrade`."""
