"""Invocation operations: create (per-type rules, 409), latest-by-keys, list, get, cancel.

Contract (NOTES.md): an accepted invocation is stored ``pending`` before the 201; GitHub needs
``target_collection_name`` and refuses ``object_key``/``custom_id``/``metadata``; web refuses
every other field; S3 needs an ``object_key`` under the source's ``path_prefix``, defaults the
collection to the source's, limits ``custom_id`` to 120 bytes and refuses reserved metadata
keys; every 400 names the field; a second active invocation for the same target is 409;
cancel answers 202 ``{}`` while pending and 412 afterwards; foreign resources are 404.
"""

import uuid

from fastapi.testclient import TestClient

from sync_pipelines.catalog import Catalog
from tests.test_api_bridge.conftest import TokenHeaders, create_source


def invocations(source_id: str) -> str:
    return f"/api/v1/sources/{source_id}/invocations"


def test_s3_invocation_is_stored_pending_with_its_fields(
    client: TestClient, admin: dict[str, str], s3_source: str, catalog: Catalog
) -> None:
    body = {"object_key": "docs/a.md", "custom_id": "doc-a", "metadata": {"team": "x", "n": 2}}
    response = client.post(invocations(s3_source), json=body, headers=admin)
    assert response.status_code == 201
    invocation_id = uuid.UUID(response.json()["invocation_id"])
    record = catalog.get_invocation_record(invocation_id)
    assert record is not None
    assert record.job.status.word == "pending"
    assert (record.object_key, record.custom_id) == ("docs/a.md", "doc-a")
    assert record.extra_metadata == {"team": "x", "n": 2}
    job = client.get(f"/api/v1/invocations/{invocation_id}", headers=admin).json()
    assert job["status"] == "pending"
    assert job["source_id"] == s3_source
    assert job["metadata"]["collection_name"] == "kb1"
    assert job["metadata"]["s3"]["object_key"] == "docs/a.md"


def test_s3_rules_are_400_naming_the_field(
    client: TestClient, admin: dict[str, str], s3_source: str
) -> None:
    cases = [
        ({}, "object_key"),
        ({"object_key": "other/a.md"}, "object_key"),
        ({"object_key": "docs/a", "custom_id": "é" * 61}, "custom_id"),
        ({"object_key": "docs/a", "metadata": {"document_key": "x"}}, "metadata"),
        ({"object_key": "docs/a", "metadata": {"chroma_x": 1}}, "metadata"),
        ({"object_key": "docs/a", "metadata": {"mixed": [1, "a"]}}, "metadata"),
        ({"object_key": "docs/a", "ref_identifier": {"branch": "main"}}, "ref_identifier"),
        ({"object_key": "docs/a", "surprise": True}, "surprise"),
        ({"object_key": 7}, "object_key"),
        ({"object_key": "docs/\x00"}, "object_key"),
    ]
    for body, field in cases:
        response = client.post(invocations(s3_source), json=body, headers=admin)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["message"], (field, response.json())


def test_github_rules(client: TestClient, admin: dict[str, str], catalog: Catalog) -> None:
    source_id = create_source(client, admin, github={"repository": "octo/repo"})
    url = invocations(source_id)
    missing = client.post(url, json={}, headers=admin)
    assert missing.status_code == 400
    assert "target_collection_name" in missing.json()["message"]
    for field, value in (("object_key", "a"), ("custom_id", "c"), ("metadata", {"a": 1})):
        body = {"target_collection_name": "code", field: value}
        refused = client.post(url, json=body, headers=admin)
        assert refused.status_code == 400 and field in refused.json()["message"]
    created = client.post(
        url,
        json={"target_collection_name": "code", "ref_identifier": {"sha": "abc123"}},
        headers=admin,
    )
    assert created.status_code == 201
    job = catalog.get_invocation(uuid.UUID(created.json()["invocation_id"]))
    assert job is not None and job.metadata.github is not None
    assert job.metadata.github.git_ref_identifier.model_dump() == {"sha": "abc123"}
    default = client.post(url, json={"target_collection_name": "code2"}, headers=admin)
    assert default.status_code == 201
    job = catalog.get_invocation(uuid.UUID(default.json()["invocation_id"]))
    assert job is not None and job.metadata.github is not None
    assert job.metadata.github.git_ref_identifier.model_dump() == {"branch": "HEAD"}


def test_web_rules(client: TestClient, admin: dict[str, str]) -> None:
    source_id = create_source(client, admin, web_scrape={"starting_url": "https://example.org/"})
    url = invocations(source_id)
    assert "target_collection_name" in client.post(url, json={}, headers=admin).json()["message"]
    for field, value in (("object_key", "a"), ("ref_identifier", {"branch": "b"})):
        refused = client.post(
            url, json={"target_collection_name": "web", field: value}, headers=admin
        )
        assert refused.status_code == 400 and field in refused.json()["message"]
    created = client.post(url, json={"target_collection_name": "web"}, headers=admin)
    assert created.status_code == 201
    job = client.get(f"/api/v1/invocations/{created.json()['invocation_id']}", headers=admin)
    assert job.json()["metadata"]["web_scrape"] == {"starting_url": "https://example.org/"}


def test_duplicate_active_invocation_is_409_until_it_ends(
    client: TestClient, member: dict[str, str], s3_source: str, catalog: Catalog
) -> None:
    body = {"object_key": "docs/a.md"}
    first = client.post(invocations(s3_source), json=body, headers=member)
    assert first.status_code == 201
    clash = client.post(invocations(s3_source), json=body, headers=member)
    assert clash.status_code == 409
    assert clash.json()["error"] == "AlreadyExistsError"
    other_key = client.post(
        invocations(s3_source), json={"object_key": "docs/b.md"}, headers=member
    )
    assert other_key.status_code == 201
    assert catalog.mark_complete(uuid.UUID(first.json()["invocation_id"]))
    assert client.post(invocations(s3_source), json=body, headers=member).status_code == 201


def test_create_invocation_unknown_or_foreign_source_is_404(
    client: TestClient, s3_source: str, make_token: TokenHeaders
) -> None:
    foreign = make_token("other", admin=True)
    body = {"object_key": "docs/a.md"}
    assert client.post(invocations(s3_source), json=body, headers=foreign).status_code == 404
    unknown = client.post(invocations(str(uuid.uuid4())), json=body, headers=foreign)
    assert unknown.status_code == 404
    assert client.post(invocations(s3_source), json=body).status_code == 401


def test_cancel_pending_then_412(
    client: TestClient, member: dict[str, str], s3_source: str, make_token: TokenHeaders
) -> None:
    created = client.post(invocations(s3_source), json={"object_key": "docs/a"}, headers=member)
    invocation = f"/api/v1/invocations/{created.json()['invocation_id']}"
    assert client.put(invocation, headers=make_token("other")).status_code == 404
    cancelled = client.put(invocation, headers=member)
    assert (cancelled.status_code, cancelled.json()) == (202, {})
    assert client.get(invocation, headers=member).json()["status"] == "cancelled"
    again = client.put(invocation, headers=member)
    assert again.status_code == 412
    assert "cancelled" in again.json()["message"]
    assert client.put(f"/api/v1/invocations/{uuid.uuid4()}", headers=member).status_code == 404
    assert client.put("/api/v1/invocations/xyz", headers=member).status_code == 400


def test_list_invocations_filters_and_scoping(
    client: TestClient, admin: dict[str, str], s3_source: str, make_token: TokenHeaders
) -> None:
    ids = []
    for key in ("docs/1", "docs/2", "docs/3"):
        created = client.post(invocations(s3_source), json={"object_key": key}, headers=admin)
        ids.append(created.json()["invocation_id"])
    client.put(f"/api/v1/invocations/{ids[0]}", headers=admin)
    gh = create_source(client, admin, github={"repository": "o/r"})
    gh_id = client.post(invocations(gh), json={"target_collection_name": "col"}, headers=admin)
    listed = client.get("/api/v1/invocations", headers=admin).json()
    assert [j["id"] for j in listed] == [gh_id.json()["invocation_id"], *reversed(ids)]
    by_source = client.get(f"/api/v1/invocations?source_id={s3_source}&order_by=ASC", headers=admin)
    assert [j["id"] for j in by_source.json()] == ids
    pending = client.get("/api/v1/invocations?status=pending&source_type=s3", headers=admin)
    assert [j["id"] for j in pending.json()] == [ids[2], ids[1]]
    cancelled = client.get("/api/v1/invocations?status=cancelled", headers=admin).json()
    assert [j["status"] for j in cancelled] == ["cancelled"]
    assert len(client.get("/api/v1/invocations?limit=1&offset=1", headers=admin).json()) == 1
    other = make_token("other")
    assert client.get("/api/v1/invocations", headers=other).json() == []
    assert (
        client.get(f"/api/v1/invocations?source_id={s3_source}", headers=other).status_code == 404
    )
    assert client.get("/api/v1/invocations?database_name=db", headers=other).status_code == 403
    both = client.get(f"/api/v1/invocations?source_id={s3_source}&database_name=db", headers=admin)
    assert both.status_code == 400 and "source_id" in both.json()["message"]
    assert client.get("/api/v1/invocations?status=done", headers=admin).status_code == 400
    foreign_get = client.get(f"/api/v1/invocations/{ids[1]}", headers=other)
    assert foreign_get.status_code == 404


def test_latest_by_keys(client: TestClient, admin: dict[str, str], s3_source: str) -> None:
    first = client.post(invocations(s3_source), json={"object_key": "docs/a"}, headers=admin).json()
    client.put(f"/api/v1/invocations/{first['invocation_id']}", headers=admin)
    second = client.post(
        invocations(s3_source), json={"object_key": "docs/a"}, headers=admin
    ).json()
    url = f"{invocations(s3_source)}/latest-by-keys"
    response = client.post(url, json={"object_keys": ["docs/a", "docs/missing"]}, headers=admin)
    assert response.status_code == 200
    assert list(response.json()) == ["docs/a"]
    assert response.json()["docs/a"]["id"] == second["invocation_id"]
    assert client.post(url, json={"object_keys": "docs/a"}, headers=admin).status_code == 400
    assert client.post(url, json={}, headers=admin).status_code == 400
    missing = f"/api/v1/sources/{uuid.uuid4()}/invocations/latest-by-keys"
    assert client.post(missing, json={"object_keys": []}, headers=admin).status_code == 404
