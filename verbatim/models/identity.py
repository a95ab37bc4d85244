"""Model identities as users may read them.

A transcript and its custody manifest say which models produced it (name, SHA-256, source), and shared
units read them too. The file path of a model on the server says nothing to a reader and tells an attacker
the layout of the machine (user names, mount points): it is left out of everything a user can read; the
hash identifies the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["PRIVATE_KEYS", "public_identities"]

PRIVATE_KEYS: Final = frozenset({"path", "model_path", "directory", "dir", "file"})


def public_identities(models: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """``models`` (name -> identity) without the keys that hold server paths; a new dict."""
    return {
        str(name): {k: v for k, v in dict(info).items() if k not in PRIVATE_KEYS}
        for name, info in (models or {}).items()
        if isinstance(info, Mapping)
    }
