"""Logging set-up for the API and the workers: plain text or one JSON object per line.

Logs leave the machine (to a collector) and outlive a purge, so they carry identifiers only: request, job,
user and worker ids, routes as templates (``/v1/jobs/{job_id}``, never a query string), statuses, timings.
File names, transcript text, user names and exception *messages* (which can quote any of those) are never
written; an exception is logged by its type and stack frames.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

__all__ = ["SAFE_FIELDS", "JsonFormatter", "configure_logging"]

SAFE_FIELDS = (
    "request_id",
    "job_id",
    "user_id",
    "unit",
    "role",
    "action",
    "outcome",
    "method",
    "route",
    "status",
    "duration_ms",
    "worker_id",
    "attempt",
    "progress",
    "queue",
    "part",
)
"""``extra=`` keys copied into a JSON record; anything else passed as extra is dropped."""

_HANDLER_NAME = "verbatim"


def _frames(tb: TracebackType | None) -> str:
    """``file:line in function`` of each frame, innermost last; no source text, no exception message."""
    return " <- ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(traceback.extract_tb(tb)))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the :data:`SAFE_FIELDS` present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            # frames only: the message of an exception can quote a file name or a transcript
            entry["stack"] = _frames(record.exc_info[2])
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s%(fields)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = [
            f"{name}={record.__dict__[name]}" for name in SAFE_FIELDS if record.__dict__.get(name) is not None
        ]
        record.fields = (" " + " ".join(fields)) if fields else ""
        exc_info, record.exc_info, record.exc_text = record.exc_info, None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info = exc_info
        if exc_info and exc_info[0] is not None:
            text += f" [{exc_info[0].__name__}] " + _frames(exc_info[2])
        return text


def configure_logging(
    fmt: str = "text", level: str = "INFO", *, stream: IO[str] | None = None
) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr by default) in ``fmt``; idempotent.

    Args:
        fmt: ``json`` or ``text``.
        level: the root level; noisy libraries stay at WARNING.
        stream: where to write.

    Returns:
        The handler installed (replacing one installed by an earlier call).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own access log writes raw paths with their query strings: ours (api/app.py) writes templates
    logging.getLogger("uvicorn.access").disabled = True
    # alembic: its "Context impl" / "Will assume" INFO lines at every start say nothing to an operator
    for noisy in ("httpx", "botocore", "urllib3", "faster_whisper", "numba", "multipart", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
