"""Errors of the HTTP layer, and the one table that turns every domain error into an HTTP status.

Routes and services raise domain exceptions (``verbatim.errors``, storage errors, the few below); the
handler installed by :func:`install_error_handlers` maps them to a status and a JSON body
``{"error": message}`` in one place, so no route builds an error response itself.
"""

from __future__ import annotations

import logging
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from verbatim.api.messages import field_of
from verbatim.errors import (
    AudioDecodeError,
    AudioLimitError,
    DocumentEngineError,
    InvalidOptionError,
    JobNotReadyError,
    LegalHoldError,
    ModelIntegrityError,
    ModelNotFoundError,
    VerbatimError,
)
from verbatim.jobs.documents import EditConflictError, RevertBlockedError
from verbatim.jobs.voices import VoiceExistsError, VoiceNotFoundError
from verbatim.ops.storage import ObjectNotFoundError, ObjectTooLargeError, StorageError
from verbatim.pipeline.voices import EnrolmentError

__all__ = [
    "JobNotFoundError",
    "JobNotReadyError",
    "NotAuthenticatedError",
    "PermissionDeniedError",
    "RetranslateTimeoutError",
    "ServiceUnavailableError",
    "WaitTimeoutError",
    "code_of",
    "install_error_handlers",
    "status_of",
]

log = logging.getLogger("verbatim.api")


class NotAuthenticatedError(VerbatimError):
    """No bearer token, or one that names no enabled user."""


class PermissionDeniedError(VerbatimError):
    """The user is known but their role does not allow this (only for routes whose existence is public)."""


class JobNotFoundError(VerbatimError):
    """No such job, or one of another unit: both answer the same, so a job's existence does not leak."""


class ServiceUnavailableError(VerbatimError):
    """A collaborator (database, queue) cannot be reached; trying again later may work."""


class WaitTimeoutError(VerbatimError):
    """A synchronous (OpenAI-compatible) request waited longer than allowed for its job."""


class RetranslateTimeoutError(WaitTimeoutError):
    """No worker translated the segment again in the time the API waits (one already at it still records
    its row: it shows on reload)."""


# Most specific first: the first class an exception is an instance of gives its status.
_STATUSES: Final[tuple[tuple[type[BaseException], int], ...]] = (
    (NotAuthenticatedError, 401),
    (PermissionDeniedError, 403),
    (JobNotFoundError, 404),
    (ObjectNotFoundError, 404),
    (VoiceNotFoundError, 404),  # before its parent, InvalidOptionError
    (JobNotReadyError, 409),
    (VoiceExistsError, 409),
    (LegalHoldError, 409),
    (ObjectTooLargeError, 413),
    (AudioLimitError, 422),  # readable, but out of the accepted bounds (sample rate, channels, duration)
    (AudioDecodeError, 415),
    (EnrolmentError, 422),  # decoded, but too little speech to make a voice print
    (InvalidOptionError, 422),
    (WaitTimeoutError, 504),
    (ModelNotFoundError, 503),
    (DocumentEngineError, 503),
    (ModelIntegrityError, 503),
    (ServiceUnavailableError, 503),
    (StorageError, 503),
)


# The catalogue code of each error (verbatim/api/messages.py), most specific first.
_CODES: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (NotAuthenticatedError, "not_authenticated"),
    (PermissionDeniedError, "permission_denied"),
    (JobNotFoundError, "job_not_found"),
    (ObjectNotFoundError, "object_not_found"),
    (VoiceNotFoundError, "voice_not_found"),
    (VoiceExistsError, "voice_exists"),
    (EnrolmentError, "voice_enrolment"),
    (RevertBlockedError, "revert_blocked"),
    (EditConflictError, "edit_conflict"),
    (JobNotReadyError, "job_not_ready"),
    (LegalHoldError, "legal_hold"),
    (ObjectTooLargeError, "too_large"),
    (AudioLimitError, "audio_limit"),
    (AudioDecodeError, "audio_unreadable"),
    (InvalidOptionError, "invalid_option"),
    (RetranslateTimeoutError, "retranslate_timeout"),
    (WaitTimeoutError, "wait_timeout"),
    (ModelNotFoundError, "model_unavailable"),
    (ModelIntegrityError, "model_unavailable"),
    (DocumentEngineError, "document_engine"),
    (ServiceUnavailableError, "service_unavailable"),
    (StorageError, "service_unavailable"),
)
_HTTP_CODES: Final = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 413: "too_large",
                      429: "rate_limited", 503: "service_unavailable"}  # fmt: skip


def code_of(error: BaseException) -> str:
    """The catalogue code of an error (``internal`` for one not in the table)."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return "internal"


def _body(message: str, code: str, field: str | None = None) -> dict[str, str]:
    """``{"error": message, "code": code[, "field": name]}``: the detail in English, the code for the
    catalogue's message in the reader's language."""
    body = {"error": message, "code": code}
    field = field or (field_of(message) if code == "invalid_option" else None)
    if field:
        body["field"] = field
    return body


def status_of(error: BaseException) -> int:
    """The HTTP status a domain error answers with (500 for one not in the table)."""
    for kind, status in _STATUSES:
        if isinstance(error, kind):
            return status
    return 500


def _headers(status: int) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if status == 401 else None


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    message = str(exc) or type(exc).__name__
    if status >= 500:
        # Messages of domain errors are written to be shown; an unexpected one is logged, not shown.
        log.error("request %s failed: %s", getattr(request.state, "request_id", "-"), type(exc).__name__)
    return JSONResponse(_body(message, code_of(exc)), status_code=status, headers=_headers(status))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form"))
    message = f"{where or 'request'}: {first.get('msg', 'invalid value')}"
    body = (
        _body(message, "invalid_option", where.split(".")[-1]) if where else _body(message, "invalid_request")
    )
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    headers.update(_headers(exc.status_code) or {})
    code = _HTTP_CODES.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "internal")
    return JSONResponse(_body(str(exc.detail), code), status_code=exc.status_code, headers=headers or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request %s failed", getattr(request.state, "request_id", "-"))
    return JSONResponse(
        _body("internal error; the request id names it in the logs", "internal"), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    """Install the handlers that answer every error with ``{"error": message, "code": code}`` (the code of
    :mod:`verbatim.api.messages`'s catalogue) and the mapped status."""
    app.add_exception_handler(VerbatimError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
