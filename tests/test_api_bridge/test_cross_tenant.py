"""A hostile tenant A against tenant B, through the API: every route is a 400/404/403.

A holds an admin token of database ``a``; B owns database ``b`` with a GitHub source (whose
mirror lives in ``<home>/git/<id>``), an S3 source with its own keys, an upload and an
invocation. A tries file URLs and path tricks at B's mirror, loopback and metadata endpoints,
B's credential id, the server's AWS credentials, B's sources, invocations and uploads. Each
attempt is refused naming the field, and a loopback listener sees no connection at all.
The run-time side of the same rules is in ``tests/test_sync_pipelines/test_outbound_probes.py``.
"""

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_bridge.app import create_app
from sync_pipelines.catalog import Catalog
from sync_pipelines.settings import Settings, get_settings
from tests.test_api_bridge.test_add_file import upload
from tests.test_sync_pipelines.outbound_helpers import Listener

SOURCES = "/api/v1/sources"
A, B = "tenant-a", "tenant-b"


@pytest.fixture
def settings(chroma_sync_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The server with no allow-list, no local roots and no grant of its AWS credentials."""
    monkeypatch.setenv("CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS", "[]")
    monkeypatch.setenv("CHROMA_SYNC_S3_SERVER_CREDENTIALS_DATABASES", "[]")
    get_settings.cache_clear()
    return Settings()


@pytest.fixture
def tenants(catalog: Catalog) -> dict[str, dict[str, str]]:
    """Admin token headers of databases ``a`` (the attacker) and ``b`` (the victim)."""
    return {
        name[-1]: {"x-chroma-token": catalog.create_token(name, admin=True)[1]}
        for name in ("tenant-a", "tenant-b")
    }


def refused(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert field in response.json()["message"], response.json()


def github(base_url: str | None, repository: str = "octo/repo", **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"repository": repository, **extra}
    if base_url is not None:
        config["base_url"] = base_url
    return {"database_name": A, "github": config}


def test_another_tenants_git_mirror_is_out_of_reach(
    client: TestClient, tenants: dict[str, dict[str, str]], settings: Settings
) -> None:
    made = client.post(SOURCES, json={**github(None), "database_name": B}, headers=tenants["b"])
    assert made.status_code == 201
    mirror = settings.home_dir / "git" / made.json()["source_id"]
    mirror.mkdir(parents=True)
    home = settings.home_dir
    attempts = [
        github(f"file://{home.parent}", f"{home.name}/git/{mirror.name}"),
        github(f"file://{mirror.parent}", f"x/../{mirror.name}"),
        github(f"file://{home}/git", mirror.name + "/."),
        github("file:///", str(mirror).lstrip("/")),
        github(f"file://localhost{home}", f"git/{mirror.name}"),
    ]
    for body in attempts:
        response = client.post(SOURCES, json=body, headers=tenants["a"])
        assert response.status_code == 400, (body, response.text)
        message = response.json()["message"]
        assert "github.base_url" in message or "github.repository" in message


def test_local_roots_open_only_themselves(
    settings: Settings, tenants: dict[str, dict[str, str]]
) -> None:
    allowed = settings.home_dir.parent / "shared-repos"
    local = settings.model_copy(update={"git_local_roots": [allowed]})
    app = create_app(local, orchestrator_probe=lambda: True)
    mirror = settings.home_dir / "git" / "b-source"
    with TestClient(app) as client:
        inside = client.post(
            SOURCES, json=github(f"file://{allowed}", "team/handbook"), headers=tenants["a"]
        )
        assert inside.status_code == 201, inside.text
        for base_url, repository in [
            (f"file://{allowed}/..", f"home/git/{mirror.name}"),
            (f"file://{allowed}-evil", "team/handbook"),
            (f"file://{mirror.parent}", mirror.name + "/x"),
        ]:
            response = client.post(SOURCES, json=github(base_url, repository), headers=tenants["a"])
            refused(response, 400, "github.base_url")


@pytest.mark.parametrize(
    "repository",
    [
        "../octo",
        "octo/..",
        "octo/./repo",
        "octo/repo\n",
        "octo/re po",
        "octo",
        "/octo/repo",
        "octo//repo",
        "oc\x01to/repo",
    ],
)
def test_repository_names_are_whole_safe_paths(
    client: TestClient, tenants: dict[str, dict[str, str]], repository: str
) -> None:
    response = client.post(SOURCES, json=github(None, repository), headers=tenants["a"])
    refused(response, 400, "github.repository")


@pytest.mark.parametrize(
    ("section", "field", "template"),
    [
        ("github", "github.base_url", "http://127.0.0.1:{port}"),
        ("github", "github.base_url", "https://localhost:{port}"),
        ("github", "github.base_url", "git://127.0.0.1:{port}"),
        ("github", "github.base_url", "ssh://[::1]:{port}"),
        ("github", "github.base_url", "git://2130706433:{port}"),
        ("github", "github.base_url", "http://169.254.169.254"),
        ("github", "github.base_url", "http://metadata.google.internal"),
        ("github", "github.base_url", "http://10.1.2.3"),
        ("s3", "s3.endpoint_url", "http://127.0.0.1:{port}"),
        ("s3", "s3.endpoint_url", "http://[::ffff:127.0.0.1]:{port}"),
        ("s3", "s3.endpoint_url", "http://169.254.169.254"),
        ("s3", "s3.endpoint_url", "http://0x7f000001:{port}"),
        ("web_scrape", "web_scrape.starting_url", "http://127.0.0.1:{port}/"),
        ("web_scrape", "web_scrape.starting_url", "http://[::1]:{port}/"),
    ],
)
def test_internal_endpoints_are_refused_at_creation(
    client: TestClient,
    tenants: dict[str, dict[str, str]],
    section: str,
    field: str,
    template: str,
) -> None:
    with Listener() as listener:
        url = template.format(port=listener.port)
        config: dict[str, Any] = {
            "github": {"repository": "octo/repo", "base_url": url},
            "s3": {
                "bucket_name": "b-bucket",
                "region": "us-east-1",
                "collection_name": "stolen",
                "endpoint_url": url,
                "aws_access_key_id": "AKIAATTACKER",
                "aws_secret_access_key": "attacker-secret",
            },
            "web_scrape": {"starting_url": url},
        }[section]
        response = client.post(
            SOURCES, json={"database_name": A, section: config}, headers=tenants["a"]
        )
    refused(response, 400, field)
    assert "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS" in response.json()["message"]
    assert listener.received == []


def test_server_aws_credentials_and_other_tenants_credentials_are_refused(
    client: TestClient, tenants: dict[str, dict[str, str]]
) -> None:
    b_body = {
        "database_name": B,
        "s3": {
            "bucket_name": "b-bucket",
            "region": "us-east-1",
            "collection_name": "b-docs",
            "aws_access_key_id": "AKIAVICTIM",
            "aws_secret_access_key": "victim-secret",
        },
    }
    made = client.post(SOURCES, json=b_body, headers=tenants["b"])
    assert made.status_code == 201
    b_source = client.get(f"{SOURCES}/{made.json()['source_id']}", headers=tenants["b"]).json()
    credential = b_source["s3"]["aws_credential_id"]
    keyless = {"bucket_name": "b-bucket", "region": "us-east-1", "collection_name": "stolen"}

    response = client.post(SOURCES, json={"database_name": A, "s3": keyless}, headers=tenants["a"])
    refused(response, 400, "s3.aws_credential_id")
    assert "may not use the server's AWS credentials" in response.json()["message"]
    response = client.post(
        SOURCES,
        json={"database_name": A, "s3": {**keyless, "aws_credential_id": credential}},
        headers=tenants["a"],
    )
    refused(response, 404, "s3.aws_credential_id")
    response = client.post(
        SOURCES,
        json={"database_name": A, "s3": {**keyless, "endpoint_url": "https://s3.example.com"}},
        headers=tenants["a"],
    )
    refused(response, 400, "s3.aws_credential_id")
    # The control (a granted database may) is test_sources' keyless S3 sources, whose
    # server grants every database, and test_server_credentials at run time.


def test_github_app_tokens_stay_on_the_configured_host(
    client: TestClient, tenants: dict[str, dict[str, str]]
) -> None:
    response = client.post(
        SOURCES, json=github("https://git.example.com", app_id="123"), headers=tenants["a"]
    )
    refused(response, 400, "github.app_id")
    ok = client.post(SOURCES, json=github("https://github.com", app_id="123"), headers=tenants["a"])
    assert ok.status_code == 201


def test_another_tenants_sources_invocations_and_uploads_are_not_found(
    client: TestClient, tenants: dict[str, dict[str, str]], settings: Settings
) -> None:
    parts: list[tuple[str, str | bytes, str | None]] = [
        ("database_name", B, None),
        ("collection_name", "b-files", None),
        ("file", b"# B's notes\n", "notes.md"),
    ]
    stored = upload(client, tenants["b"], parts, len(b"# B's notes\n"))
    assert stored.status_code == 201, stored.text
    invocation = stored.json()["invocation_id"]
    b_sources = client.get(SOURCES, headers=tenants["b"]).json()
    assert b_sources
    for source in b_sources:
        refused(client.get(f"{SOURCES}/{source['id']}", headers=tenants["a"]), 404, "not found")
        posted = client.post(
            f"{SOURCES}/{source['id']}/invocations",
            json={"target_collection_name": "stolen", "object_key": "notes.md"},
            headers=tenants["a"],
        )
        assert posted.status_code == 404
    assert client.get(f"/api/v1/invocations/{invocation}", headers=tenants["a"]).status_code == 404
    assert client.get(SOURCES, headers=tenants["a"]).json() == []
    assert client.get("/api/v1/invocations", headers=tenants["a"]).json() == []
    into_b = upload(client, tenants["a"], parts, len(b"# B's notes\n"))
    assert into_b.status_code == 403
    assert (
        client.get(f"/api/v1/invocations/{uuid.uuid4()}", headers=tenants["a"]).status_code == 404
    )
