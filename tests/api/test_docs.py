"""The OpenAPI pages work offline: every asset they load is served by the API itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import make_settings
from verbatim.server import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An API whose operator opened the documentation (VERBATIM_API_DOCS=open; it is off by default)."""
    home: Path = tmp_path_factory.mktemp("docs-home")
    with TestClient(create_app(make_settings(home, api_docs="open"), dispatcher=_Idle())) as client:
        yield client


class _Idle:
    def submit(self, job_id: str) -> None:
        raise AssertionError("no job is submitted here")


def test_docs_pages_load_only_local_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        r = client.get(page)
        assert r.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert sources, f"{page} loads no asset?"
        for source in sources:
            assert source.startswith("/"), f"{page} loads {source} from elsewhere"
            asset = client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 1000, source
        assert "fonts.googleapis" not in r.text and "cdn.jsdelivr" not in r.text


def test_the_schema_lists_the_job_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/audio/transcriptions"} <= set(paths)
