"""OpenAPI documentation pages served with local assets.

FastAPI's default ``/docs`` and ``/redoc`` load Swagger UI and ReDoc from a public CDN, which an on-premise
deployment cannot reach (and must not: every page load would tell a third party that the service is in use).
The same assets ship inside the ``fastapi-offline`` wheel (MIT); they are served from ``/docs-assets``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "assets_dir", "install_docs"]

ASSETS_PATH = "/docs-assets"


def assets_dir() -> Path:
    """Where the Swagger UI / ReDoc files are installed.

    Raises:
        RuntimeError: ``fastapi-offline`` is missing (it is a dependency of verbatim: reinstall).
    """
    import fastapi_offline

    folder = Path(fastapi_offline.__file__).parent / "static"
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"Swagger UI assets missing from {folder}: reinstall fastapi-offline")
    return folder


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` (Swagger UI), ``/redoc`` and their assets to ``app`` (created with ``docs_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
