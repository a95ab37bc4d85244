"""Object storage of originals and derived artefacts: a local folder (embedded) or an S3 bucket (distributed).

Get the configured store with :func:`make_store`; code that uses it depends only on :class:`ObjectStore`.
"""

from __future__ import annotations

import math

from verbatim.ops.settings import Settings
from verbatim.ops.storage.base import (
    InvalidKeyError,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    ObjectTooLargeError,
    StorageError,
    StorageUnavailableError,
    StoredObject,
    validate_key,
)
from verbatim.ops.storage.local import LocalObjectStore
from verbatim.ops.storage.s3 import RetryPolicy, S3ObjectStore

__all__ = [
    "InvalidKeyError",
    "LocalObjectStore",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ObjectStore",
    "ObjectTooLargeError",
    "RetryPolicy",
    "S3ObjectStore",
    "StorageError",
    "StorageUnavailableError",
    "StoredObject",
    "make_store",
    "validate_key",
]


def make_store(settings: Settings) -> ObjectStore:
    """The object store the settings choose (``settings.storage.backend``).

    Args:
        settings: The application settings.

    Returns:
        A :class:`LocalObjectStore` under :meth:`Settings.resolved_local_root`, or an
        :class:`S3ObjectStore` on the configured server (its bucket is created on first use), wrapped in an
        :class:`~verbatim.ops.storage.encrypted.EncryptedObjectStore` when encryption at rest is on
        (configured, or by default in the embedded deployment: :func:`verbatim.ops.keys.resolve_keyring`).

    Raises:
        InvalidOptionError: encryption is set but its keyring or key cannot be used.
    """
    from verbatim.ops.keys import resolve_keyring

    store = _plain_store(settings)
    keyring = resolve_keyring(settings)
    if keyring is not None:
        from verbatim.ops.storage.encrypted import EncryptedObjectStore

        return EncryptedObjectStore(store, keyring)
    return store


def retry_policy(deadline: float) -> RetryPolicy:
    """The S3 retry policy for a deadline in seconds: backoff as :class:`RetryPolicy`'s defaults, and enough
    tries that the deadline, not the count, ends the retrying (the default deadline gives the default policy).
    """
    base = RetryPolicy()
    # Waits of 0.25, 0.5, 1, 2 s, then max_delay each: this many tries fill the deadline.
    attempts = max(base.attempts, math.ceil(deadline / base.max_delay) + 5)
    return RetryPolicy(attempts=attempts, deadline=deadline)


def _plain_store(settings: Settings) -> ObjectStore:
    storage = settings.storage
    if storage.backend == "s3":
        return S3ObjectStore(
            endpoint=storage.s3_endpoint,
            access_key=storage.s3_access_key,
            secret_key=storage.s3_secret_key,
            bucket=storage.s3_bucket,
            secure=storage.s3_secure,
            region=storage.s3_region,
            retry=retry_policy(storage.retry_deadline_s),
            connect_timeout=storage.connect_timeout_s,
            read_timeout=storage.read_timeout_s,
        )
    return LocalObjectStore(settings.resolved_local_root())
