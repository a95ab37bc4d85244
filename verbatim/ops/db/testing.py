"""Throw-away databases for tests (of this package and of the API and workers that use it).

Not imported by the service itself.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from verbatim.ops.db.engine import make_engine, upgrade

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "migrated_engine",
    "postgres_test_url",
    "temporary_database",
    "temporary_postgres_schema",
]

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
"""Where the tests find PostgreSQL unless ``VERBATIM_TEST_POSTGRES_URL`` says otherwise (the test suite
points it at a throw-away server of its own when none answers here)."""


def postgres_test_url() -> str:
    """The PostgreSQL database of the tests: ``VERBATIM_TEST_POSTGRES_URL``, else the default port's."""
    return os.environ.get("VERBATIM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@contextmanager
def temporary_postgres_schema(url: str | None = None, *, prefix: str = "vb_test") -> Iterator[str]:
    """Create a fresh, empty PostgreSQL schema and drop it (with everything in it) afterwards.

    Args:
        url: a ``postgresql+psycopg://`` URL of a database where the user may create schemas.
        prefix: start of the schema's name; a random suffix keeps concurrent test runs apart.

    Yields:
        A URL like ``url`` whose connections use only the new schema (``search_path``), for
        :func:`~verbatim.ops.db.upgrade` and :func:`~verbatim.ops.db.make_engine`.
    """
    url = url or postgres_test_url()
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={name}"})
        try:
            yield scoped.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def temporary_database(backend: str, folder: Path, *, postgres_url: str | None = None) -> Iterator[str]:
    """An empty database: a SQLite file in ``folder``, or a fresh schema in PostgreSQL.

    Args:
        backend: ``sqlite`` or ``postgresql``.
        folder: where the SQLite file goes.
        postgres_url: the PostgreSQL database to create the schema in.

    Yields:
        Its URL; a PostgreSQL schema is dropped on exit.
    """
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'verbatim.db'}"
    elif backend == "postgresql":
        with temporary_postgres_schema(postgres_url) as url:
            yield url
    else:
        raise ValueError(f"unknown database backend {backend!r}")


@contextmanager
def migrated_engine(backend: str, folder: Path, *, postgres_url: str | None = None) -> Iterator[Engine]:
    """An engine on a :func:`temporary_database` that the migrations brought to head."""
    with temporary_database(backend, folder, postgres_url=postgres_url) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
