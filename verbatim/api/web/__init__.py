"""The web pages: sign in, upload, the job list, the transcript page, the unit's known voices. Static files,
served by the API.

The pages hold no data: they are plain HTML, CSS and JavaScript (nothing fetched from a CDN, no external
font) that call the JSON API with the bearer token the user typed, kept in the tab's ``sessionStorage``.
So the page routes need no authentication, and every access to a job goes through the audited API routes.
A strict Content-Security-Policy allows only the server's own scripts and styles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC", "install_web"]

STATIC: Final = Path(__file__).parent / "static"
PAGES: Final = Path(__file__).parent / "pages"

_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Audio URLs carry a short-lived ticket: never send them to another site.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(PAGES / name, media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/")
def root() -> RedirectResponse:
    """The home page is the job list."""
    return RedirectResponse("/web/", status_code=307)


@router.get("/web")
@router.get("/web/")
def jobs_page() -> FileResponse:
    """Sign in, then the unit's jobs with search and filters."""
    return _page("index.html")


@router.get("/web/upload")
def upload_page() -> FileResponse:
    """Upload a recording and follow it."""
    return _page("upload.html")


@router.get("/web/jobs/{job_id}")
def job_page(job_id: str) -> FileResponse:
    """One job's transcript: player, corrections, speakers, exports, custody (data fetched by the page)."""
    return _page("job.html")


@router.get("/web/voices")
def voices_page() -> FileResponse:
    """The unit's known voices: list, enrol (followed until ready or failed), remove."""
    return _page("voices.html")


@router.get("/web/roles.json")
def roles() -> JSONResponse:
    """Each permission and the roles that hold it (:data:`verbatim.ops.roles.ROLE_TABLE`): the pages show a
    link or a form only to the roles the API will let through (the API still checks every call)."""
    from verbatim.ops.roles import ROLE_TABLE, roles_with

    return JSONResponse({"permissions": {p: list(roles_with(p)) for p in ROLE_TABLE}}, headers=_HEADERS)


@router.get("/web/messages.json")
def messages() -> JSONResponse:
    """The catalogue of error codes and their French and English messages (the pages show an API error in
    the page's language from its ``code``)."""
    from verbatim.api.messages import FIELD_NAMES, MESSAGES, PLURALS

    return JSONResponse({"messages": MESSAGES, "fields": FIELD_NAMES, "plurals": PLURALS}, headers=_HEADERS)


def install_web(app: FastAPI) -> None:
    """Mount the pages and their static files on ``app``."""
    app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=STATIC), name="web-static")
