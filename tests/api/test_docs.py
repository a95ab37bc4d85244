"""The OpenAPI pages work offline: every asset they load is served by the API itself."""

from __future__ import annotations

import re

from tests.api.conftest import Service


def test_docs_pages_load_only_local_assets(service: Service) -> None:
    for page in ("/docs", "/redoc"):
        r = service.client.get(page)
        assert r.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert sources, f"{page} loads no asset?"
        for source in sources:
            assert source.startswith("/"), f"{page} loads {source} from elsewhere"
            asset = service.client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 1000, source
        assert "fonts.googleapis" not in r.text and "cdn.jsdelivr" not in r.text


def test_the_schema_lists_the_job_routes(service: Service) -> None:
    paths = service.client.get("/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/audio/transcriptions"} <= set(paths)
