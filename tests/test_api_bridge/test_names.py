"""Database and collection names: the API refuses what Chroma 1.5.9 refuses, naming the field.

Contract: a database name under 3 characters, and a collection name that is not 3-512
characters of ``[a-zA-Z0-9._-]`` starting and ending with a letter or digit, contains ``..``
or is an IPv4 address, is answered 400 with a message starting with the field
(``database_name``, ``s3.collection_name``, ``target_collection_name``, ``collection_name``)
by create-source, create-invocation and add-file, and nothing is stored; names Chroma accepts
(3 characters, spaces and unicode in database names, ``01.2.3.4``) are 201. The catalog stores
at most 255 characters, so longer names are refused too. The rules agree with a real
in-process Chroma on every sample name, and ``Catalog.create_token`` refuses short names.
"""

import uuid
from collections.abc import Callable, Iterator

import chromadb
import httpx
import pytest
from chromadb.api import ClientAPI
from fastapi.testclient import TestClient

from sync_pipelines.catalog import Catalog
from sync_pipelines.schemas.common import (
    CATALOG_NAME_MAX_CHARS,
    check_collection_name,
    check_database_name,
)
from sync_pipelines.settings import Settings
from tests.test_api_bridge.conftest import S3, TokenHeaders, create_source
from tests.test_api_bridge.test_add_file import stored_files, upload

REFUSED_COLLECTIONS = {
    "kb": "3-512 characters",
    "my docs": "3-512 characters",
    "-docs": "3-512 characters",
    "docs_": "3-512 characters",
    "dócs": "3-512 characters",
    "a..b": "consecutive periods",
    "192.168.0.1": "IPv4",
    "a" * 513: "3-512 characters",
    "a" * (CATALOG_NAME_MAX_CHARS + 1): f"at most {CATALOG_NAME_MAX_CHARS} characters",
}
ACCEPTED_COLLECTIONS = ["abc", "a" * CATALOG_NAME_MAX_CHARS, "01.2.3.4", "1.2.3", "A_b-c.9"]
MORE_SAMPLES = ["", "a", "ab", ".ab", "ab.", "a.b", "a-.b", "1.2.3.4", "256.1.1.1", "a b", "a\nb"]
DATABASE_SAMPLES = ["", "a", "ab", "abc", "a b", "é€x", "...", " " * 3, "a" * 255]


@pytest.fixture(scope="module")
def chroma() -> Iterator[ClientAPI]:
    """An in-process Chroma client on a database of its own."""
    database = f"names-{uuid.uuid4().hex}"
    admin = chromadb.AdminClient(chromadb.EphemeralClient().get_settings())
    admin.create_database(database)
    yield chromadb.EphemeralClient(database=database)


def chroma_accepts_collection(client: ClientAPI, name: str) -> bool:
    try:
        client.create_collection(name)
    except Exception:
        return False
    client.delete_collection(name)
    return True


def rule_accepts(rule: Callable[[str], str], name: str) -> bool:
    try:
        rule(name)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "name", [*REFUSED_COLLECTIONS, *ACCEPTED_COLLECTIONS, *MORE_SAMPLES, "a" * 512]
)
def test_collection_rule_agrees_with_chroma(chroma: ClientAPI, name: str) -> None:
    ours = rule_accepts(check_collection_name, name)
    if len(name) > CATALOG_NAME_MAX_CHARS:
        assert not ours  # the catalog's width, stricter than Chroma's 512
        assert chroma_accepts_collection(chroma, name) is (len(name) <= 512)
    else:
        assert ours is chroma_accepts_collection(chroma, name)


@pytest.mark.parametrize("name", DATABASE_SAMPLES)
def test_database_rule_agrees_with_chroma(chroma: ClientAPI, name: str) -> None:
    admin = chromadb.AdminClient(chroma.get_settings())
    try:
        admin.create_database(name)
        chroma_accepts = True
    except Exception:
        chroma_accepts = False
    assert rule_accepts(check_database_name, name) is chroma_accepts


def test_refusal_messages() -> None:
    for name, problem in REFUSED_COLLECTIONS.items():
        with pytest.raises(ValueError, match=problem):
            check_collection_name(name)
    with pytest.raises(ValueError, match="at least 3 characters"):
        check_database_name("ab")
    with pytest.raises(ValueError, match="NUL"):
        check_database_name("ab\x00c")


def assert_400(response: httpx.Response, field: str, problem: str) -> None:
    assert response.status_code == 400, response.text
    message: str = response.json()["message"]
    assert message.startswith(f"{field}: "), message
    assert problem in message, message


def test_create_source_refuses_names_chroma_refuses(
    client: TestClient, admin: dict[str, str], catalog: Catalog
) -> None:
    short = client.post("/api/v1/sources", json={"database_name": "ab", "s3": S3}, headers=admin)
    assert_400(short, "database_name", "at least 3 characters")
    for name, problem in REFUSED_COLLECTIONS.items():
        body = {"database_name": "db1", "s3": {**S3, "collection_name": name}}
        response = client.post("/api/v1/sources", json=body, headers=admin)
        assert_400(response, "s3.collection_name", problem)
    assert catalog.list_sources("db1") == []
    assert catalog.list_sources("ab") == []


def test_create_source_accepts_boundary_names(
    client: TestClient, make_token: TokenHeaders, catalog: Catalog
) -> None:
    for database in ("abc", "my db é", "a" * CATALOG_NAME_MAX_CHARS):
        headers = make_token(database, admin=True)
        for name in ACCEPTED_COLLECTIONS:
            source_id = create_source(
                client, headers, database_name=database, s3={**S3, "collection_name": name}
            )
            got = client.get(f"/api/v1/sources/{source_id}", headers=headers).json()
            assert (got["database_name"], got["s3"]["collection_name"]) == (database, name)
        assert len(catalog.list_sources(database)) == len(ACCEPTED_COLLECTIONS)


def test_create_invocation_refuses_target_names_chroma_refuses(
    client: TestClient, admin: dict[str, str], s3_source: str, catalog: Catalog
) -> None:
    url = f"/api/v1/sources/{s3_source}/invocations"
    for name, problem in REFUSED_COLLECTIONS.items():
        body = {"object_key": "docs/a.md", "target_collection_name": name}
        assert_400(client.post(url, json=body, headers=admin), "target_collection_name", problem)
    assert catalog.list_invocations(database_name="db1") == []
    for name in ACCEPTED_COLLECTIONS:
        body = {"object_key": "docs/a.md", "target_collection_name": name}
        created = client.post(url, json=body, headers=admin)
        assert created.status_code == 201, created.text
        job = client.get(f"/api/v1/invocations/{created.json()['invocation_id']}", headers=admin)
        assert job.json()["metadata"]["collection_name"] == name


def test_add_file_refuses_names_chroma_refuses(
    client: TestClient, member: dict[str, str], catalog: Catalog, settings: Settings
) -> None:
    file_part: tuple[str, str | bytes, str | None] = ("file", b"hello", "a.md")
    short_db = [("database_name", "ab", None), ("collection_name", "files", None), file_part]
    assert_400(upload(client, member, short_db, 5), "database_name", "at least 3 characters")
    for name, problem in REFUSED_COLLECTIONS.items():
        parts = [("database_name", "db1", None), ("collection_name", name, None), file_part]
        assert_400(upload(client, member, parts, 5), "collection_name", problem)
    assert catalog.list_invocations(database_name="db1") == []
    assert stored_files(settings) == []
    for name in ACCEPTED_COLLECTIONS:
        parts = [("database_name", "db1", None), ("collection_name", name, None), file_part]
        created = upload(client, member, parts, 5)
        assert created.status_code == 201, created.text
        record = catalog.get_invocation(uuid.UUID(created.json()["invocation_id"]))
        assert record is not None and record.metadata.collection_name == name


def test_catalog_create_token_refuses_short_database_names(catalog: Catalog) -> None:
    for name in ("", "ab"):
        with pytest.raises(ValueError, match="database_name: must be at least 3 characters"):
            catalog.create_token(name)
    with pytest.raises(ValueError, match="at most 255 characters"):
        catalog.create_token("a" * 256)
    token, _ = catalog.create_token("abc")
    assert [t.database_name for t in catalog.list_tokens()] == [token.database_name] == ["abc"]
