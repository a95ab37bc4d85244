"""The HTTP API (FastAPI): routes, schemas, authentication, audit; see :func:`create_app`."""

from verbatim.api.app import create_app

__all__ = ["create_app"]
