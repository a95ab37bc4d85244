"""`verbatim users` and `verbatim audit` through the real entry point, on the embedded SQLite database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VERBATIM_HOME": str(home)}
    env.pop("VERBATIM_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "verbatim.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_users_add_prints_the_token_alone_and_stores_only_its_hash(tmp_path: Path) -> None:
    proc = run("users", "add", "Lucie Bernard", "--role", "investigator", "--unit", "bpf-75", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert proc.stdout == token + "\n" and token.startswith("vbt_") and len(token) > 30
    raw = (tmp_path / "verbatim.db").read_bytes()
    for suffix in ("-wal",):
        wal = tmp_path / f"verbatim.db{suffix}"
        if wal.exists():
            raw += wal.read_bytes()
    assert token.encode() not in raw
    with sqlite3.connect(tmp_path / "verbatim.db") as db:
        assert db.execute("select role, unit from users").fetchall() == [("investigator", "bpf-75")]
    listing = run("users", "list", home=tmp_path)
    assert "Lucie Bernard" in listing.stdout and token not in listing.stdout


def test_bad_role_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("users", "add", "x", "--role", "sheriff", "--unit", "u1", home=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == "" and "sheriff" in proc.stderr


def test_reset_token_revokes_the_old_one_and_audit_exports_jsonl(tmp_path: Path) -> None:
    added = run("users", "add", "greffe", "--role", "clerk", "--unit", "tj-lyon", home=tmp_path)
    first = added.stdout.strip()
    second = run("users", "reset-token", "greffe", home=tmp_path).stdout.strip()
    assert second.startswith("vbt_") and second != first
    from verbatim.ops.accounts import authenticate
    from verbatim.ops.db import make_engine, session_factory

    with session_factory(make_engine(f"sqlite:///{tmp_path / 'verbatim.db'}"))() as session:
        assert authenticate(session, first) is None
        user = authenticate(session, second)
        assert user is not None and user.unit == "tj-lyon"
    audit = run("audit", home=tmp_path)
    assert audit.returncode == 0, audit.stderr
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [e["detail"] for e in entries] == ["users add role=clerk unit=tj-lyon", "users reset-token"]
    assert all(e["action"] == "admin" and "greffe" not in json.dumps(e) for e in entries)
    assert run("audit", "--since", "yesterday", home=tmp_path).returncode == 2
