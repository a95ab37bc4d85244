"""The embedded service with encryption at rest: a job runs, its objects lie encrypted in the store, the
custody manifest verifies, and still verifies after a key rotation."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import JFK, Actor, make_settings
from verbatim.api.deps import ServiceState
from verbatim.ops.accounts import create_user
from verbatim.ops.db.sealed import seal_rows
from verbatim.ops.keys import Keyring, init_keyring
from verbatim.ops.settings import EncryptionSettings
from verbatim.ops.storage.encrypted import EncryptedObjectStore, key_id_of
from verbatim.ops.storage.rotation import rotate_keyring
from verbatim.server import create_app

pytestmark = pytest.mark.models


def test_an_encrypted_deployment_end_to_end(tmp_path: Path) -> None:
    ring = init_keyring(tmp_path / "ring.json")
    settings = make_settings(tmp_path / "home", encryption=EncryptionSettings(keyring_file=ring.path))
    app = create_app(settings, poll_interval_s=0.05)
    with TestClient(app) as client:
        state: ServiceState = app.state.verbatim
        assert isinstance(state.store, EncryptedObjectStore)
        with state.sessions() as session:
            actor = Actor(*create_user(session, name="inv", role="investigator", unit="b"))
        with JFK.open("rb") as fh:
            r = client.post("/v1/jobs", headers=actor.headers, files={"file": ("jfk.flac", fh)},
                            data={"language": "en", "diarize": "false"})  # fmt: skip
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 180
        while (body := client.get(f"/v1/jobs/{job_id}", headers=actor.headers).json())["status"] not in (
            "succeeded",
            "failed",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert body["status"] == "succeeded", body
        text = client.get(f"/v1/jobs/{job_id}/transcript?format=txt", headers=actor.headers).text
        assert "country" in text.lower()

        objects = tmp_path / "home" / "objects"
        on_disk = b"".join(p.read_bytes() for p in objects.rglob("*") if p.is_file())
        assert (
            b"country" not in on_disk and b"fLaC" not in on_disk
        )  # neither transcript nor recording in clear
        for key in state.store.list(f"jobs/{job_id}/"):
            assert key_id_of(state.store.inner, key) == ring.active_id

        def verified() -> list[bool | None]:
            manifest = client.get(f"/v1/jobs/{job_id}/custody?verify=true", headers=actor.headers).json()
            assert manifest["original"]["sha256"] == hashlib.sha256(JFK.read_bytes()).hexdigest()
            return [manifest["original"]["verified"], *(a["verified"] for a in manifest["artifacts"])]

        assert all(verified())
        # the database's sealed values (file name, options...) are re-sealed before the old key goes
        report = rotate_keyring(state.store, also=lambda: seal_rows(state.engine, ring_of(state), rekey=True))
        assert report.reencrypted >= 2 and report.rows >= 2
        assert all(verified())  # custody hashes are of the plaintext: rotation changes none


def ring_of(state: ServiceState) -> Keyring:
    assert isinstance(state.store, EncryptedObjectStore)
    return state.store.keyring
