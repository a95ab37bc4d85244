"""The configuration reference covers every setting and is the one committed in docs/."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.conftest import REPO
from verbatim.cli import app
from verbatim.ops.config_reference import describe_settings
from verbatim.ops.settings import Settings


def test_every_setting_is_documented_with_a_meaning() -> None:
    docs = {d.env: d for d in describe_settings()}
    assert "VERBATIM_WORKER__SPLIT_SECONDS" in docs and "VERBATIM_STORAGE__S3_BUCKET" in docs
    undocumented = [env for env, d in docs.items() if not d.description]
    assert not undocumented, f"settings without a description: {undocumented}"


def test_the_committed_reference_is_up_to_date(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["config", "reference"])
    assert result.exit_code == 0, result.output
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert result.output == committed, "docs/configuration.md is stale: run `verbatim config reference`"


def test_an_environment_variable_named_in_the_reference_changes_the_setting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VERBATIM_WORKER__SPLIT_SECONDS", "600")
    monkeypatch.setenv("VERBATIM_LOG_FORMAT", "json")
    settings = Settings()
    assert settings.worker.split_seconds == 600.0 and settings.log_format == "json"
