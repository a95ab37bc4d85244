"""The audit log on both engines: what an entry holds, queries, the JSON Lines export."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError
from verbatim.ops import accounts, audit
from verbatim.ops.db import User, utcnow


@pytest.fixture
def users(session: Session) -> dict[str, User]:
    made = {}
    for name, role, unit in [("ines", "investigator", "brigade-lyon"), ("clara", "clerk", "tj-paris")]:
        made[name], _ = accounts.create_user(session, name=name, role=role, unit=unit)
    return made


def test_an_entry_records_who_did_what(session: Session, users: dict[str, User]) -> None:
    entry = audit.record(
        session,
        user=users["ines"],
        action="export",
        outcome="ok",
        request_id="req-1",
        job_id="j1",
        detail="format=srt",
    )
    assert entry.id is not None
    assert (entry.user_id, entry.user_name, entry.role, entry.unit) == (
        users["ines"].id,
        "ines",
        "investigator",
        "brigade-lyon",
    )
    assert (entry.action, entry.outcome, entry.job_id, entry.request_id, entry.detail) == (
        "export",
        "ok",
        "j1",
        "req-1",
        "format=srt",
    )
    assert abs(utcnow() - entry.at) < timedelta(minutes=1)


def test_anonymous_attempts_are_recorded(session: Session) -> None:
    entry = audit.record(session, user=None, action="login", outcome="denied", request_id="r")
    assert (entry.user_id, entry.user_name, entry.unit, entry.outcome) == (None, None, None, "denied")


def test_unknown_action_or_outcome_is_refused(session: Session, users: dict[str, User]) -> None:
    with pytest.raises(InvalidOptionError):
        audit.record(session, user=users["ines"], action="peek", outcome="ok", request_id="r")
    with pytest.raises(InvalidOptionError):
        audit.record(session, user=users["ines"], action="read", outcome="maybe", request_id="r")
    assert audit.query(session) == []


def test_detail_is_short_and_on_one_line(session: Session, users: dict[str, User]) -> None:
    entry = audit.record(
        session,
        user=users["ines"],
        action="write",
        outcome="error",
        request_id="r",
        detail="a\nb\x00" + "x" * 500,
    )
    assert "\n" not in entry.detail and "\x00" not in entry.detail
    assert len(entry.detail) == audit.MAX_DETAIL_CHARS


def test_an_entry_cannot_be_edited_through_the_orm(session: Session, users: dict[str, User]) -> None:
    entry = audit.record(session, user=users["ines"], action="read", outcome="ok", request_id="r")
    entry.outcome = "denied"
    with pytest.raises(DBAPIError, match="append-only"):
        session.commit()


def test_query_filters(session: Session, users: dict[str, User]) -> None:
    ines, clara = users["ines"], users["clara"]
    first = audit.record(session, user=ines, action="write", outcome="ok", request_id="1", job_id="j1")
    audit.record(session, user=clara, action="read", outcome="not_found", request_id="2", job_id="j1")
    audit.record(session, user=ines, action="read", outcome="ok", request_id="3", job_id="j2")
    last = audit.record(session, user=ines, action="delete", outcome="ok", request_id="4", job_id="j2")

    def ids(**filters: object) -> list[str | None]:
        return [e.request_id for e in audit.query(session, **filters)]  # type: ignore[arg-type]

    assert ids() == ["1", "2", "3", "4"]
    assert ids(unit="tj-paris") == ["2"]
    assert ids(user_id=ines.id) == ["1", "3", "4"]
    assert ids(job_id="j2") == ["3", "4"]
    assert ids(action="read") == ["2", "3"]
    assert ids(after_id=first.id, limit=2) == ["2", "3"]
    assert ids(since=first.at) == ["1", "2", "3", "4"]
    assert ids(until=first.at) == []
    assert ids(since=last.at + timedelta(seconds=1)) == []
    with pytest.raises(InvalidOptionError):
        audit.query(session, limit=0)


def test_export_jsonl(session: Session, users: dict[str, User]) -> None:
    for i in range(5):
        audit.record(session, user=users["ines"], action="read", outcome="ok", request_id=f"r{i}", job_id="j")
    audit.record(session, user=users["clara"], action="read", outcome="ok", request_id="other")

    stream = io.StringIO()
    assert audit.export_jsonl(session, stream, unit="brigade-lyon", batch=2) == 5
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == [f"r{i}" for i in range(5)]
    assert set(lines[0]) == set(audit.entry_to_dict(audit.query(session, limit=1)[0]))
    assert {"at", "user_name", "role", "unit", "action", "job_id", "outcome", "request_id"} <= set(lines[0])
    assert "filename" not in lines[0]
    assert lines[0]["at"].endswith("+00:00")

    everything = io.StringIO()
    assert audit.export_jsonl(session, everything) == 6
