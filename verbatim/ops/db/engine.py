"""Engines, sessions and migrations.

SQLite (embedded) gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL (distributed)
gets ``pool_pre_ping`` so that a restarted server does not surface as errors. The schema is created and
upgraded by Alembic only, from the migrations shipped in this package (no ``alembic.ini`` at run time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from verbatim.ops.private import private_dir, private_sqlite

__all__ = ["current_revision", "downgrade", "head_revision", "make_engine", "session_factory", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings verbatim relies on.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///PATH`` (the folder is created) or ``postgresql+psycopg://...``.
            A PostgreSQL schema other than ``public`` is chosen with ``?options=-csearch_path%3DNAME``.
        **kwargs: passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine. SQLite connections have WAL journaling, ``foreign_keys=ON`` and a busy timeout, and may
        be used from any thread (the API answers from a thread pool).
    """
    parsed = make_url(url)
    # An error's message must not carry the statement's parameters (a user's name, unit, a searched word).
    kwargs.setdefault("hide_parameters", True)
    # As many connections as the API's thread pool (40) can ask for at once: with SQLAlchemy's default
    # (5 + 10 overflow) requests queued for a connection and failed after 30 s under load (`bench load`).
    in_memory = parsed.get_backend_name() == "sqlite" and (parsed.database or ":memory:") == ":memory:"
    if "poolclass" not in kwargs and not in_memory:  # an in-memory database has one shared connection
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 40)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        # transcript text, corrections, names: a folder created here is 0700, the database file 0600
        database = Path(parsed.database).expanduser()
        if not database.parent.exists():
            private_dir(database.parent)
        private_sqlite(database)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # WAL: readers do not block the writer (API polling while a worker reports progress).
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: still consistent after a crash of
            # the process or the machine (a power cut may lose the last commits, never corrupt the file).
            # FULL made every audited request wait for an fsync while holding the write lock, and under
            # load (`verbatim bench load`) the lock waits cascaded into 30 s answers.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (a deleted job's text and file name) are overwritten, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        finally:
            cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit (no expiry on commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Create or upgrade the schema by running the packaged Alembic migrations; a no-op when up to date.

    Args:
        url_or_engine: the database URL (as for :func:`make_engine`) or an engine from it.
        revision: the target revision, ``head`` by default.
    """
    from alembic import command

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def downgrade(url_or_engine: str | Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``base`` drops every table). For tests and operators' repairs."""
    from alembic import command

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.begin() as connection:
            command.downgrade(_alembic_config(connection), revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, ``None`` when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of verbatim."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - a packaging error
        raise RuntimeError("no database migration shipped with verbatim")
    return head
