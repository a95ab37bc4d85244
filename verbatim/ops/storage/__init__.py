"""Object storage of originals and derived artefacts: a local folder (embedded) or an S3 bucket (distributed).

Get the configured store with :func:`make_store`; code that uses it depends only on :class:`ObjectStore`.
"""

from __future__ import annotations

from verbatim.ops.settings import Settings
from verbatim.ops.storage.base import (
    InvalidKeyError,
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    ObjectTooLargeError,
    StorageError,
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
        :class:`~verbatim.ops.storage.encrypted.EncryptedObjectStore` when encryption at rest is set.

    Raises:
        InvalidOptionError: encryption is set but its keyring or key cannot be used.
    """
    store = _plain_store(settings)
    if settings.encryption.enabled:
        from verbatim.ops.keys import load_keyring
        from verbatim.ops.storage.encrypted import EncryptedObjectStore

        keyring = load_keyring(settings.encryption)
        assert keyring is not None
        return EncryptedObjectStore(store, keyring)
    return store


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
        )
    return LocalObjectStore(settings.resolved_local_root())
