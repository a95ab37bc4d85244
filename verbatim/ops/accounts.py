"""Accounts: users with a role and a unit, authenticated by bearer tokens stored only as hashes.

A token is ``vbt_`` followed by 32 random bytes (URL-safe base64); the database keeps its SHA-256 and
nothing else, so a copy of the database does not let anyone act as a user. A plain hash suffices (no
salt, no slow KDF): the token has 256 bits of entropy, nothing to guess, and a hash lets authentication
be one indexed lookup. A token is shown once, at creation; a lost one is replaced with :func:`reset_token`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError
from verbatim.ops.db.models import ROLES, User

__all__ = [
    "ROLES",
    "TOKEN_PREFIX",
    "authenticate",
    "check_unit",
    "create_user",
    "disable_user",
    "get_user",
    "hash_token",
    "list_users",
    "reset_token",
    "unit_exists",
]

TOKEN_PREFIX: Final = "vbt_"
_MAX_TOKEN_CHARS: Final = 128
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidOptionError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def check_unit(unit: str) -> str:
    """``unit`` stripped, if it is a well-formed unit name.

    Raises:
        InvalidOptionError: not 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit.
    """
    unit = unit.strip()
    if not _UNIT.fullmatch(unit):
        raise InvalidOptionError(
            f"invalid unit {unit!r}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or "
            "digit (e.g. brigade-lyon, tj-paris, consulate-algiers)"
        )
    return unit


def _check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise InvalidOptionError("a user name must be 1 to 128 printable characters")
    return name


def create_user(session: Session, *, name: str, role: str, unit: str) -> tuple[User, str]:
    """Create a user and their first token, and commit.

    Args:
        session: the session to use.
        name: a unique login name.
        role: investigator, clerk, diplomat or admin.
        unit: the brigade, court or consulate whose jobs the user sees (an admin sees every unit's).

    Returns:
        The new user and their token. The token is not stored and cannot be shown again.

    Raises:
        InvalidOptionError: an unknown role, a malformed unit or name, or a name already taken.
    """
    user = User(name=_check_name(name), role=_check_role(role), unit=check_unit(unit), disabled=False)
    token = _new_token()
    user.token_hash = hash_token(token)
    session.add(user)
    try:
        session.commit()
    except IntegrityError as e:
        session.rollback()
        raise InvalidOptionError(f"a user named {user.name!r} exists already") from e
    return user, token


def unit_exists(session: Session, unit: str) -> bool:
    """Whether some user (enabled or not) belongs to ``unit``: units exist through their users."""
    return session.scalar(select(User.id).where(User.unit == unit).limit(1)) is not None


def authenticate(session: Session, token: str | None) -> User | None:
    """The enabled user holding ``token``, or ``None`` (unknown, malformed or disabled)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_CHARS:
        return None
    user = session.scalars(select(User).where(User.token_hash == hash_token(token))).one_or_none()
    if user is None or user.disabled:
        return None
    return user


def get_user(session: Session, *, name: str) -> User:
    """The user named ``name``.

    Raises:
        InvalidOptionError: there is no such user.
    """
    user = session.scalars(select(User).where(User.name == name.strip())).one_or_none()
    if user is None:
        raise InvalidOptionError(f"no user named {name!r} (see `verbatim users list`)")
    return user


def list_users(session: Session, *, unit: str | None = None, include_disabled: bool = True) -> list[User]:
    """Users by name, optionally of one unit only and without the disabled ones."""
    statement = select(User).order_by(User.name)
    if unit is not None:
        statement = statement.where(User.unit == unit)
    if not include_disabled:
        statement = statement.where(User.disabled.is_(False))
    return list(session.scalars(statement))


def disable_user(session: Session, *, name: str) -> User:
    """Disable a user (their token stops working at once) and commit; accounts are never deleted.

    Raises:
        InvalidOptionError: there is no such user.
    """
    user = get_user(session, name=name)
    user.disabled = True
    session.commit()
    return user


def reset_token(session: Session, *, name: str) -> str:
    """Give a user a new token, revoking the old one, and commit.

    Returns:
        The new token, to be shown once.

    Raises:
        InvalidOptionError: there is no such user.
    """
    user = get_user(session, name=name)
    token = _new_token()
    user.token_hash = hash_token(token)
    session.commit()
    return token
