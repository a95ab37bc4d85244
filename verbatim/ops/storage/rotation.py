"""Key rotation of encryption at rest: a new key in the keyring, every object re-encrypted under it.

Apart from :mod:`verbatim.ops.keys` (the keyring alone), so that the keyring never imports the store.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from verbatim.errors import InvalidOptionError
from verbatim.ops.keys import new_key_id
from verbatim.ops.storage.encrypted import EncryptedObjectStore, key_id_of

__all__ = ["RotationReport", "rotate_keyring"]


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did: the new active key, objects re-encrypted or already under it, keys retired."""

    new_key: str
    reencrypted: int
    already: int
    retired: tuple[str, ...]
    rows: int = 0
    """Database rows sealed again under the new key (``also``)."""


def rotate_keyring(
    store: object, *, retire: bool = True, also: Callable[[], int] | None = None
) -> RotationReport:
    """Add a key, make it active, re-encrypt every object of ``store`` under it, then retire the old keys.

    The keyring file is written with the new key *before* any object is re-encrypted (an interruption
    leaves objects under old or new keys, all still readable); old keys are removed only once no object
    uses them.

    Args:
        store: an :class:`~verbatim.ops.storage.encrypted.EncryptedObjectStore` over the configured store;
            its keyring (from a file) is the one rotated.
        retire: drop the previous keys from the keyring at the end.
        also: re-encrypts what else holds data under the old keys (the database's sealed columns:
            ``lambda: seal_rows(engine, store.keyring, rekey=True)``), after the objects and before any
            key is retired; returns how many rows it changed.

    Raises:
        InvalidOptionError: encryption at rest is off, or its key comes from the environment (no file).
    """
    if not isinstance(store, EncryptedObjectStore):
        raise InvalidOptionError("encryption at rest is not configured (VERBATIM_ENCRYPTION__KEYRING_FILE)")
    ring = store.keyring
    if ring.path is None:
        raise InvalidOptionError(
            "rotation needs a keyring file: set VERBATIM_ENCRYPTION__KEYRING_FILE (`verbatim keys init`)"
        )
    old = set(ring.keys)
    key_id = new_key_id()
    while key_id in ring.keys:
        key_id = new_key_id()
    ring.keys[key_id] = secrets.token_bytes(32)
    ring.active_id = key_id
    ring.save()
    done = already = 0
    for key in store.list(""):
        if store.reencrypt(key):
            done += 1
        else:
            already += 1
    rows = also() if also is not None else 0
    retired: tuple[str, ...] = ()
    if retire:
        still = {key_id_of(store.inner, k) for k in store.list("")} - {None}
        retired = tuple(sorted(k for k in old if k not in still))
        for k in retired:
            del ring.keys[k]
        ring.save()
    return RotationReport(key_id, done, already, retired, rows)
