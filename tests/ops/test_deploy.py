"""The deployment files (verbatim/ops/deploy) agree with the code: settings they set exist, commands they run
exist, metrics the alerts watch are exported."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tests.conftest import REPO
from verbatim.api.metrics import render_metrics
from verbatim.cli import app
from verbatim.ops.config_reference import describe_settings
from verbatim.ops.db import session_factory

DEPLOY = REPO / "verbatim" / "ops" / "deploy"
# Variables the deployment sets for the libraries, not for verbatim's settings.
LIBRARY_ENV = {
    "HF_HUB_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "PYANNOTE_METRICS_ENABLED",
    "CUDA_VISIBLE_DEVICES",
}


def _known() -> set[str]:
    return {d.env for d in describe_settings()}


def _compose() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")
    )
    return {k: v for k, v in pairs}


def _check_command(argv: list[str]) -> None:
    assert argv[0].endswith("verbatim"), argv
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert result.exit_code == 0, f"{argv}: {result.output}"
    for option in (a.split("=")[0] for a in argv[1:] if a.startswith("--")):
        assert option in result.output, f"{argv}: no option {option}"


def test_compose_services_set_real_settings_and_run_real_commands() -> None:
    compose = _compose()
    services = compose["services"]
    assert isinstance(services, dict)
    assert {"api", "worker-cpu", "worker-gpu", "postgres", "redis", "minio"} <= set(services)
    known = _known()
    for name in ("api", "worker-cpu", "worker-gpu"):
        service = services[name]
        env = service["environment"]
        for key in env:
            assert key in known, f"{name} sets {key}, which no setting reads"
        assert env["VERBATIM_BROKER_URL"].startswith("redis://redis:")
        assert env["VERBATIM_STORAGE__S3_ENDPOINT"].startswith("minio:")
        _check_command(service["command"])
    gpu = services["worker-gpu"]
    assert gpu["environment"]["VERBATIM_ASR__DEVICE"] == "cuda" and gpu["profiles"] == ["gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def test_environment_example_names_only_real_settings() -> None:
    env = _env_file(DEPLOY / "verbatim.env.example")
    unknown = set(env) - _known() - LIBRARY_ENV
    assert not unknown, f"the example sets unknown variables: {unknown}"
    assert env["HF_HUB_OFFLINE"] == "1" and env["PYANNOTE_METRICS_ENABLED"] == "0"  # no hub, no telemetry


UNITS = ["verbatim-api.service", "verbatim-worker@.service", "verbatim-purge.service"]


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_units_run_real_commands_confined(unit: str) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / unit)
    service = parser["Service"]
    _check_command(shlex.split(service["ExecStart"]))
    assert service["User"] == "verbatim" and service["UMask"] == "0077"
    assert service["EnvironmentFile"] == "/etc/verbatim/verbatim.env"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"


def test_alerts_watch_metrics_the_api_exports(engine: Engine) -> None:
    exported = {
        line.split("{")[0].split(" ")[0]
        for line in render_metrics(session_factory(engine)).decode().splitlines()
        if line and not line.startswith("#")
    }
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert len(rules) >= 5
    watched = {m for rule in rules for m in re.findall(r"\bverbatim_[a-z_]+", rule["expr"])}
    assert {"verbatim_queue_depth", "verbatim_worker_heartbeat_age_seconds"} <= watched
    missing = watched - exported
    assert not missing, f"alerts watch metrics that /metrics does not export: {missing}"
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["metrics_path"] == "/metrics"
    assert scrape["scrape_configs"][0]["authorization"]["type"] == "Bearer"  # /metrics needs a token


def test_the_image_installs_and_verifies_the_models_at_build_time() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "verbatim models install && verbatim models verify" in dockerfile
    assert "torch==2.13.0" in dockerfile  # the pin of pyproject.toml
    assert 'torch==2.13.0"' in (REPO / "pyproject.toml").read_text()
    assert "USER verbatim" in dockerfile
