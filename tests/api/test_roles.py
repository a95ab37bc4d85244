"""Least privilege (issue 15): the role table enforced in the routes, shares only to existing units.

Jobs here are rows with a stored original, never dispatched: no model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from tests.api.conftest import Actor, Service, stored_job
from tests.conftest import REPO
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry, Job, JobShare
from verbatim.ops.roles import ROLE_TABLE, allowed, markdown_table


def _job(service: Service, owner: Actor) -> str:
    return stored_job(service, owner)


@pytest.fixture(scope="module")
def diplomat(service: Service) -> Actor:
    with service.state.sessions() as session:
        return Actor(*create_user(session, name="dip-a", role="diplomat", unit="brigade-a"))


def _exists(service: Service, job_id: str) -> bool:
    with service.state.sessions() as session:
        return session.get(Job, job_id) is not None


def test_a_diplomat_reads_and_corrects_but_neither_deletes_nor_shares(
    service: Service, diplomat: Actor
) -> None:
    job_id = _job(service, service.investigator)
    client, headers = service.client, diplomat.headers
    assert client.get(f"/v1/jobs/{job_id}", headers=headers).status_code == 200
    r = client.delete(f"/v1/jobs/{job_id}", headers=headers)
    assert r.status_code == 403 and "delete" in r.json()["error"], r.text
    assert _exists(service, job_id)
    assert (
        client.post(f"/v1/jobs/{job_id}/shares", json={"unit": "court-b"}, headers=headers).status_code == 403
    )
    assert (
        client.put(f"/v1/jobs/{job_id}/legal-hold", json={"hold": True}, headers=headers).status_code == 403
    )
    assert client.get(f"/v1/jobs/{job_id}/pseudonymization-map", headers=headers).status_code == 403
    reveal = client.post(f"/v1/jobs/{job_id}/pseudonymized/reveal", json={"content": "x"}, headers=headers)
    assert reveal.status_code == 403
    assert client.get("/metrics", headers=headers).status_code == 403
    with service.state.sessions() as session:
        denied = list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.user_id == diplomat.user.id, AuditEntry.outcome == "denied"
                )
            )
        )
    assert len(denied) >= 5 and all(e.role == "diplomat" for e in denied)
    # the investigator who uploaded it may
    assert client.delete(f"/v1/jobs/{job_id}", headers=service.investigator.headers).status_code == 204


@pytest.mark.parametrize("unit", ["tj-pari", "", "../../x <b>", "a/b", "x" * 65, "court-b\n", " "])
def test_a_share_goes_to_an_existing_unit_only(service: Service, unit: str) -> None:
    job_id = _job(service, service.investigator)
    headers = service.investigator.headers
    r = service.client.post(f"/v1/jobs/{job_id}/shares", json={"unit": unit}, headers=headers)
    if unit == "court-b\n":  # surrounding blanks are trimmed, as for unit names everywhere
        assert r.status_code == 201 and r.json()["unit"] == "court-b"
        return
    assert r.status_code == 422, r.text
    assert service.client.get(f"/v1/jobs/{job_id}/shares", headers=headers).json() == {"shares": []}
    with service.state.sessions() as session:
        details = [
            e.detail or "" for e in session.scalars(select(AuditEntry).where(AuditEntry.job_id == job_id))
        ]
    assert all("<b>" not in d and "../" not in d for d in details)


def test_revoking_a_malformed_unit_is_refused_before_any_lookup(service: Service) -> None:
    job_id = _job(service, service.investigator)
    r = service.client.delete(f"/v1/jobs/{job_id}/shares/{'%3Cb%3E'}", headers=service.investigator.headers)
    assert r.status_code == 422
    with service.state.sessions() as session:
        assert list(session.scalars(select(AuditEntry).where(AuditEntry.job_id == job_id))) == []


def test_an_old_share_with_a_slash_in_its_unit_can_be_revoked(service: Service) -> None:
    """Shares made before unit names were checked may name anything, "/" included: revoked by their exact
    name (percent-encoded), audited encoded; other malformed names stay 422 and unaudited."""
    job_id = _job(service, service.investigator)
    odd = "../../x <b>"
    with service.state.sessions() as session:
        owner_id = session.scalar(select(Job.owner_id).where(Job.id == job_id))
        session.add(JobShare(job_id=job_id, unit=odd, created_by=owner_id))
        session.commit()
    headers = service.investigator.headers
    assert [
        s["unit"] for s in service.client.get(f"/v1/jobs/{job_id}/shares", headers=headers).json()["shares"]
    ] == [odd]
    path = f"/v1/jobs/{job_id}/shares/{quote(odd, safe='')}"
    # another unit cannot, the owning unit can
    assert service.client.delete(path, headers=service.outsider.headers).status_code in (403, 404)
    assert service.client.delete(path, headers=headers).status_code == 204
    assert service.client.get(f"/v1/jobs/{job_id}/shares", headers=headers).json() == {"shares": []}
    assert service.client.delete(path, headers=headers).status_code == 422  # gone: an invalid name again
    with service.state.sessions() as session:
        details = [e.detail for e in session.scalars(select(AuditEntry).where(AuditEntry.job_id == job_id))]
    assert any("unshare unit=..%2F..%2Fx%20%3Cb%3E" in d for d in details), details
    assert all("<b>" not in d for d in details)


def test_the_table_matches_what_routes_had_and_the_readme_prints_it() -> None:
    assert allowed("admin", "administer") and not allowed("clerk", "administer")
    assert all("admin" in roles for roles in ROLE_TABLE.values())
    assert not allowed("diplomat", "delete") and not allowed("diplomat", "share")
    readme = Path(REPO / "README.md").read_text()
    assert markdown_table() in readme
