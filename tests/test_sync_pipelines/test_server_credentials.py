"""Server-wide credentials stay with the host they belong to.

- The server's GitHub token is sent only to the configured git host over https: a source on
  another host (a listener on another port) gets no ``Authorization`` header at all.
- The server's AWS credentials serve only keyless sources without an ``endpoint_url``, and only
  in databases the operator granted them to (``CHROMA_SYNC_S3_SERVER_CREDENTIALS_DATABASES``).
"""

import json
from pathlib import Path
from typing import Any

import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import
from sync_pipelines.devtools.git_server import GitHttpServer
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.schemas import CreateSourcePayload, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.github_helpers import (
    DATABASE,
    create_github_source,
    document_keys,
    new_repo,
    run_github_sync,
)
from tests.test_sync_pipelines.outbound_helpers import https_git_host
from tests.test_sync_pipelines.s3_helpers import (
    DATABASE as S3_DATABASE,
)
from tests.test_sync_pipelines.s3_helpers import (
    chunks_of,
    failure_description,
    run_s3_sync,
)

TOKEN = "ghs_serverWideToken0123456789"


def test_server_github_token_reaches_only_the_configured_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = tmp_path / "served"
    repo, name = new_repo(served)
    fast_import(repo, [CommitSpec({"private.md": "# Private\n"})])
    monkeypatch.setenv("CHROMA_SYNC_GITHUB_TOKEN", TOKEN)
    with (
        https_git_host(monkeypatch, served, tmp_path / "certs", TOKEN) as home,
        GitHttpServer(served) as elsewhere,
    ):
        payload = CreateSourcePayload.model_validate(
            {"database_name": DATABASE, "github": {"repository": name}}
        )
        on_home = Catalog(get_settings().resolved_catalog_url).create_source(payload)
        assert run_github_sync(on_home, {"branch": "main"}).success
        # Same repository, another host: readable without a token, and it gets none.
        other = create_github_source(f"http://127.0.0.1:{elsewhere.port}", name)
        assert run_github_sync(other, {"branch": "main"}, "other").success

    assert document_keys() == {"private.md"} == document_keys("other")
    assert home.authorizations and all(home.authorizations)
    assert elsewhere.authorizations and not any(elsewhere.authorizations)


@pytest.fixture
def server_s3(s3_server: LocalS3Server, monkeypatch: pytest.MonkeyPatch) -> LocalS3Server:
    """The SeaweedFS server as the server-wide endpoint, with its keys as server credentials."""
    monkeypatch.setenv("CHROMA_SYNC_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    return s3_server


def keyless_source(bucket: str, **s3: Any) -> Source:
    payload = CreateSourcePayload.model_validate(
        {
            "database_name": S3_DATABASE,
            "s3": {"bucket_name": bucket, "region": "us-east-1", "collection_name": "docs", **s3},
        }
    )
    return Catalog(get_settings().resolved_catalog_url).create_source(payload)


def grant(monkeypatch: pytest.MonkeyPatch, *databases: str) -> None:
    monkeypatch.setenv("CHROMA_SYNC_S3_SERVER_CREDENTIALS_DATABASES", json.dumps(list(databases)))
    get_settings.cache_clear()


def test_server_aws_credentials_serve_only_granted_databases(
    server_s3: LocalS3Server, bucket: str, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_client.put_object(Bucket=bucket, Key="doc.md", Body=b"# Doc\n\nTenant B's text.\n")
    source = keyless_source(bucket)

    grant(monkeypatch, "another-database")
    refused = run_s3_sync(source, "doc.md")
    assert not refused.success
    assert "may not use the server's AWS credentials" in failure_description(refused)

    grant(monkeypatch, S3_DATABASE)  # the control: granted, the same source syncs
    assert run_s3_sync(source, "doc.md").success
    assert chunks_of("doc.md")


def test_server_aws_credentials_never_go_to_a_source_endpoint(
    server_s3: LocalS3Server, bucket: str, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_client.put_object(Bucket=bucket, Key="doc.md", Body=b"# Doc\n")
    grant(monkeypatch, "*")
    source = keyless_source(bucket, endpoint_url=server_s3.endpoint_url)
    refused = run_s3_sync(source, "doc.md")
    assert not refused.success
    assert "needs its own credentials" in failure_description(refused)
