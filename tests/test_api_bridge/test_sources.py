"""Sources operations of the API: create (201/400/401/403/404), list, get, delete.

Contract: create-source answers 201 ``{"source_id"}`` for an admin token of the payload's
database, and the stored source reads back with the flattened type key, resolved chunking
and embedding and no secrets; bad JSON, wrong types, unknown fields, ``file_upload`` and the
Qwen model without a Cloud key are 400 naming the field; lists are bare arrays filtered,
paged and ordered by ``created_at``; get/delete of an unknown or foreign source are 404.
Every response is validated against the patched spec by the ``client`` fixture.
"""

import uuid

from fastapi.testclient import TestClient

from tests.test_api_bridge.conftest import S3, TokenHeaders, create_source


def test_create_source_stores_resolved_settings_without_secrets(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "database_name": "db1",
        "s3": {**S3, "aws_access_key_id": "AKIA1", "aws_secret_access_key": "s3cr3t-value"},
        "chunking": {"type": "lines", "max_lines": 20},
    }
    response = client.post("/api/v1/sources", json=body, headers=admin)
    assert response.status_code == 201
    source_id = response.json()["source_id"]
    got = client.get(f"/api/v1/sources/{source_id}", headers=admin)
    assert got.status_code == 200
    source = got.json()
    assert source["id"] == source_id
    assert source["database_name"] == "db1"
    assert source["s3"]["bucket_name"] == "docs"
    assert isinstance(source["s3"]["aws_credential_id"], int)
    assert source["chunking"] == {"type": "lines", "max_lines": 20, "max_size_bytes": 1500}
    assert source["embedding_model"]["model"] == "all-MiniLM-L6-v2"
    assert "s3cr3t-value" not in got.text and "aws_secret_access_key" not in got.text


def test_create_source_bad_inputs_are_400_naming_the_field(
    client: TestClient, admin: dict[str, str]
) -> None:
    cases = [
        ({"database_name": "db1", "s3": {**S3, "region": 5}}, "s3.region"),
        ({"database_name": "db1", "s3": {**S3, "colour": "red"}}, "s3.colour"),
        ({"database_name": "db1", "github": {"repository": "o/r"}, "extra": 1}, "extra"),
        ({"database_name": "db1", "file_upload": {}}, "file_upload"),
        ({"database_name": "db1", "s3": {**S3}, "chunking": {"type": "words"}}, "chunking"),
        (
            {
                "database_name": "db1",
                "web_scrape": {"starting_url": "https://x.org"},
                "embedding": {},
            }
            | {"embedding_model": {"model": "Qwen/Qwen3-Embedding-0.6B"}},
            "embedding.dense.model",
        ),
        ({"database_name": "db1", "s3": {**S3, "collection_name": "a\x00b"}}, "s3.collection_name"),
        (
            {"database_name": "db1", "s3": S3, "embedding": {"sparse": {"model": "Chroma/BM25"}}},
            "embedding.sparse",
        ),
        ({"database_name": "db1", "s3": S3, "embedding": {"sparse": {}}}, "embedding.sparse"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/sources", json=body, headers=admin)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "InvalidArgumentError"
        assert field in response.json()["message"], (field, response.json())
    malformed = client.post(
        "/api/v1/sources",
        content=b'{"database_name": ',
        headers={**admin, "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["message"].startswith("body: invalid JSON")
    mistyped = client.post(
        "/api/v1/sources", json={"database_name": "db1", "s4": S3}, headers=admin
    )
    assert mistyped.json()["message"] == (
        "s4: unknown field (a source type key is one of github, s3, web_scrape)"
    )
    nested = client.post(
        "/api/v1/sources", json={"database_name": "db1", "s3": {**S3, "x": 1}}, headers=admin
    )
    assert nested.json()["message"] == "s3.x: unknown field"
    dense_only = {"database_name": "db1", "s3": S3, "embedding": {"sparse": None}}
    assert client.post("/api/v1/sources", json=dense_only, headers=admin).status_code == 201


def test_create_source_needs_admin_and_own_database(
    client: TestClient, member: dict[str, str], admin: dict[str, str]
) -> None:
    body = {"database_name": "db1", "s3": S3}
    assert client.post("/api/v1/sources", json=body, headers=member).status_code == 403
    other = client.post("/api/v1/sources", json={**body, "database_name": "other"}, headers=admin)
    assert other.status_code == 403
    assert "other" in other.json()["message"]
    assert client.post("/api/v1/sources", json=body).status_code == 401
    assert client.get("/api/v1/sources", headers=admin).json() == []


def test_create_source_with_unknown_credential_is_404(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {"database_name": "db1", "s3": {**S3, "aws_credential_id": 999}}
    response = client.post("/api/v1/sources", json=body, headers=admin)
    assert response.status_code == 404
    assert "aws_credential_id" in response.json()["message"]


def test_list_sources_filters_pages_and_orders(
    client: TestClient, admin: dict[str, str], make_token: TokenHeaders
) -> None:
    s3_id = create_source(client, admin, s3=S3)
    gh_id = create_source(client, admin, github={"repository": "o/r"})
    web_id = create_source(client, admin, web_scrape={"starting_url": "https://example.org"})
    other_admin = make_token("other", admin=True)
    foreign = client.post(
        "/api/v1/sources", json={"database_name": "other", "s3": S3}, headers=other_admin
    )
    assert foreign.status_code == 201
    listed = client.get("/api/v1/sources", headers=admin).json()
    assert [s["id"] for s in listed] == [web_id, gh_id, s3_id]
    asc = client.get("/api/v1/sources?order_by=ASC&limit=2", headers=admin).json()
    assert [s["id"] for s in asc] == [s3_id, gh_id]
    tail = client.get("/api/v1/sources?order_by=ASC&offset=2", headers=admin).json()
    assert [s["id"] for s in tail] == [web_id]
    assert len(client.get("/api/v1/sources", headers=other_admin).json()) == 1
    github = client.get("/api/v1/sources?source_type=github", headers=admin).json()
    assert [s["id"] for s in github] == [gh_id]
    assert client.get("/api/v1/sources?database_name=db1", headers=admin).status_code == 200
    assert client.get("/api/v1/sources?database_name=other", headers=admin).status_code == 403
    for query in ("limit=-1", "offset=x", "order_by=UP", "source_type=file_upload"):
        bad = client.get(f"/api/v1/sources?{query}", headers=admin)
        assert bad.status_code == 400, query
        assert query.split("=")[0] in bad.json()["message"]


def test_get_source_paths(client: TestClient, admin: dict[str, str], s3_source: str) -> None:
    assert client.get(f"/api/v1/sources/{s3_source}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/sources/{uuid.uuid4()}", headers=admin).status_code == 404
    bad = client.get("/api/v1/sources/not-a-uuid", headers=admin)
    assert bad.status_code == 400 and "source_id" in bad.json()["message"]
    assert client.get(f"/api/v1/sources/{s3_source}").status_code == 401


def test_delete_source_paths(
    client: TestClient, admin: dict[str, str], member: dict[str, str], s3_source: str
) -> None:
    assert client.delete(f"/api/v1/sources/{s3_source}", headers=member).status_code == 403
    response = client.delete(f"/api/v1/sources/{s3_source}", headers=admin)
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"/api/v1/sources/{s3_source}", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/sources/{s3_source}", headers=admin).status_code == 404
