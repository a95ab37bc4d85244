"""Alembic environment: runs on the connection handed over by :func:`verbatim.ops.db.upgrade`.

For ``alembic`` on the command line (writing a new revision), set ``sqlalchemy.url`` in the config; the
target metadata is the models', so ``alembic revision --autogenerate`` compares against them.
"""

from __future__ import annotations

from alembic import context

from verbatim.ops.db.engine import make_engine
from verbatim.ops.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run the migrations with verbatim.ops.db.upgrade(url)")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
