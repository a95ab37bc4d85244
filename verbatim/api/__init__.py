"""The HTTP API (FastAPI): routes, schemas, authentication, access rules, audit; see :func:`create_app`.

:func:`create_app` is given the dispatcher that hands jobs to the workers; ``verbatim.server.create_app``
builds the deployed API with the one the settings choose (this package never imports the workers').
"""

from verbatim.api.app import create_app

__all__ = ["create_app"]
