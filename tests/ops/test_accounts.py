"""Accounts on both engines: tokens stored hashed, authentication, validation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError
from verbatim.ops import accounts
from verbatim.ops.db import User


def test_the_token_is_stored_hashed_only(session: Session, engine: Engine, tmp_path: Path) -> None:
    user, token = accounts.create_user(session, name="clara", role="clerk", unit="tj-paris")
    assert token.startswith(accounts.TOKEN_PREFIX) and len(token) > 40
    assert user.token_hash == hashlib.sha256(token.encode()).hexdigest()

    rows = session.execute(text("SELECT * FROM users")).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert token not in stored and token[len(accounts.TOKEN_PREFIX) :] not in stored
    if engine.dialect.name == "sqlite":
        session.close()
        engine.dispose()  # checkpoint the WAL into the file
        raw = b"".join(path.read_bytes() for path in tmp_path.glob("verbatim.db*"))
        assert token[len(accounts.TOKEN_PREFIX) :].encode() not in raw


def test_authenticate(session: Session) -> None:
    user, token = accounts.create_user(session, name="ines", role="investigator", unit="brigade-lyon")
    other, other_token = accounts.create_user(session, name="dina", role="diplomat", unit="consulate-algiers")

    found = accounts.authenticate(session, token)
    assert found is not None and found.id == user.id
    found_other = accounts.authenticate(session, other_token)
    assert found_other is not None and found_other.id == other.id
    for wrong in ("", None, token + "x", token[:-1], "vbt_" + "A" * 43, token[len("vbt_") :], "vbt_" * 100):
        assert accounts.authenticate(session, wrong) is None

    accounts.disable_user(session, name="ines")
    assert accounts.authenticate(session, token) is None
    assert accounts.authenticate(session, other_token) is not None


def test_reset_token_revokes_the_old_one(session: Session) -> None:
    _, old = accounts.create_user(session, name="ines", role="investigator", unit="brigade-lyon")
    new = accounts.reset_token(session, name="ines")
    assert new != old
    assert accounts.authenticate(session, old) is None
    assert accounts.authenticate(session, new) is not None


@pytest.mark.parametrize(
    ("name", "role", "unit"),
    [
        ("ines", "superuser", "brigade-lyon"),
        ("ines", "Admin", "brigade-lyon"),
        ("ines", "", "brigade-lyon"),
        ("ines", "clerk", ""),
        ("ines", "clerk", "tj paris"),
        ("ines", "clerk", "-tj"),
        ("ines", "clerk", "x" * 65),
        ("", "clerk", "tj-paris"),
        ("in\nes", "clerk", "tj-paris"),
    ],
)
def test_invalid_accounts_are_refused(session: Session, name: str, role: str, unit: str) -> None:
    with pytest.raises(InvalidOptionError):
        accounts.create_user(session, name=name, role=role, unit=unit)
    assert accounts.list_users(session) == []


def test_names_are_unique(session: Session) -> None:
    accounts.create_user(session, name="ines", role="investigator", unit="brigade-lyon")
    with pytest.raises(InvalidOptionError, match="exists already"):
        accounts.create_user(session, name="ines", role="clerk", unit="tj-paris")
    assert [u.name for u in accounts.list_users(session)] == ["ines"]


def test_the_database_refuses_an_unknown_role(session: Session) -> None:
    session.add(User(name="x", role="root", unit="u", token_hash="0" * 64))
    with pytest.raises(IntegrityError):
        session.commit()


def test_list_and_disable(session: Session) -> None:
    for name, role, unit in [("b", "clerk", "tj-paris"), ("a", "admin", "hq"), ("c", "clerk", "tj-paris")]:
        accounts.create_user(session, name=name, role=role, unit=unit)
    assert [u.name for u in accounts.list_users(session)] == ["a", "b", "c"]
    assert [u.name for u in accounts.list_users(session, unit="tj-paris")] == ["b", "c"]
    assert accounts.disable_user(session, name="b").disabled
    assert [u.name for u in accounts.list_users(session, include_disabled=False)] == ["a", "c"]
    with pytest.raises(InvalidOptionError, match="no user"):
        accounts.disable_user(session, name="zoe")
