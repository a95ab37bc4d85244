"""`verbatim bench load` at a small scale: the real API in a child process, concurrent clients, no 5xx, no
job lost, figures reported. (The 200-client, 60-second run is on demand: `verbatim bench load`.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from verbatim.bench.load import run_load

pytestmark = pytest.mark.models


def test_a_short_load_run_loses_nothing_and_reports_percentiles(tmp_path: Path) -> None:
    messages: list[str] = []
    report = run_load(clients=12, seconds=4.0, workdir=tmp_path, seed=1, log=messages.append)
    data = report.data
    assert data["server_errors"] == 0 and data["client_errors"] == {}
    assert data["requests"] > 12 and data["jobs_acknowledged"] >= 5
    assert data["jobs_lost"] == 0
    assert sum(data["job_states"].values()) == data["jobs_acknowledged"]
    assert 0 < data["p50_ms"] <= data["p95_ms"]
    assert {"get_job", "upload"} <= set(data["per_kind"])
    assert "API under load: 12 clients" in report.tables[0] and "jobs lost" in report.tables[1]
    assert any("acknowledged jobs" in m for m in messages)
