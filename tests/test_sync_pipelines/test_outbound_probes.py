"""Run-time probes: git and S3 sources pointed at loopback get no connection at all.

Sources are written to the catalog directly (as a hostile tenant could not, since the API
refuses them at creation: see ``tests/test_api_bridge/test_cross_tenant.py``), so these tests
show the second line: the check where each connection is opened. A loopback listener records
every connection; with the allow-list cleared it must record none, for every URL form, for
git's http, https, git:// and ssh transports and for boto3. A DNS answer that changes between
the creation check and the run is refused too.
"""

from pathlib import Path

import chromadb
import pytest

from api_bridge.source_checks import check_source_reach
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.schemas import CreateSourcePayload
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.github_helpers import (
    collection,
    create_github_source,
    new_repo,
    run_github_sync,
)
from tests.test_sync_pipelines.outbound_helpers import Listener, fake_dns, no_allow_list
from tests.test_sync_pipelines.s3_helpers import create_s3_source, failure_description, run_s3_sync

# Every transport and spelling; the creation check (test_cross_tenant) covers more forms cheaply.
GIT_FORMS = [
    "http://127.0.0.1:{port}",
    "https://[::ffff:127.0.0.1]:{port}",
    "git://0x7f000001:{port}",
    "ssh://localhost:{port}",
]
S3_FORMS = ["http://2130706433:{port}"]


def git_failure(result: object) -> str:
    return failure_description(result)  # type: ignore[arg-type]


@pytest.mark.parametrize("form", GIT_FORMS)
def test_git_source_on_loopback_gets_no_connection(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_allow_list(monkeypatch)
    with Listener() as listener:
        source = create_github_source(form.format(port=listener.port), "octo/repo")
        result = run_github_sync(source, {"branch": "main"})
    assert not result.success
    message = git_failure(result)
    assert "refused" in message and "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS" in message
    assert listener.received == []


def test_git_source_on_loopback_connects_when_the_operator_allows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: with 127.0.0.1 allowed, the same daemon URL is reached and synced."""
    repo, name = new_repo(tmp_path / "served")
    fast_import(repo, [CommitSpec({"a.md": "# A\n"})])
    with GitDaemon(tmp_path / "served") as daemon:
        allowed = create_github_source(f"git://127.0.0.1:{daemon.port}", name)
        assert run_github_sync(allowed, {"branch": "main"}).success
        no_allow_list(monkeypatch)
        refused = run_github_sync(allowed, {"branch": "main"}, "other")
    assert not refused.success and "loopback" in git_failure(refused)


def test_file_repository_is_refused_without_local_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, name = new_repo(tmp_path / "other-tenant")
    fast_import(repo, [CommitSpec({"private.md": "# Private\n"})])
    source = create_github_source(f"file://{tmp_path / 'other-tenant'}", name)
    refused = run_github_sync(source, {"branch": "main"})
    assert not refused.success
    assert "CHROMA_SYNC_GIT_LOCAL_ROOTS" in git_failure(refused)
    with pytest.raises(chromadb.errors.NotFoundError):  # nothing of the other tenant's arrived
        collection()
    monkeypatch.setenv("CHROMA_SYNC_GIT_LOCAL_ROOTS", f'["{tmp_path / "other-tenant"}"]')
    get_settings.cache_clear()
    assert run_github_sync(source, {"branch": "main"}).success


@pytest.mark.parametrize("form", S3_FORMS)
def test_s3_endpoint_on_loopback_gets_no_connection(
    form: str, s3_server: LocalS3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_allow_list(monkeypatch)
    with Listener() as listener:
        source = create_s3_source(s3_server, "bucket", endpoint_url=form.format(port=listener.port))
        result = run_s3_sync(source, "doc.md")
    assert not result.success
    assert "loopback" in failure_description(result)
    assert listener.received == [] and listener.authorizations == []


def test_s3_endpoint_is_reached_when_allowed(
    s3_server: LocalS3Server, bucket: str, s3_client: object
) -> None:
    """The control: the same kind of source works against the real server when allowed."""
    s3_client.put_object(Bucket=bucket, Key="doc.md", Body=b"# Doc\n\nHello.\n")  # type: ignore[attr-defined]
    source = create_s3_source(s3_server, bucket)
    assert run_s3_sync(source, "doc.md").success


def test_dns_answer_changing_after_creation_is_refused_at_run_time(
    monkeypatch: pytest.MonkeyPatch, s3_server: LocalS3Server
) -> None:
    no_allow_list(monkeypatch)
    rebind = fake_dns(
        monkeypatch, {"git.rebind.test": "93.184.216.34", "s3.rebind.test": "93.184.216.34"}
    )
    with Listener() as listener:
        bodies = [
            {
                "database_name": "gitdb",
                "github": {
                    "repository": "octo/repo",
                    "base_url": f"https://git.rebind.test:{listener.port}",
                },
            },
            s3_server.source_body(
                "testdb", "bucket", "docs", endpoint_url=f"http://s3.rebind.test:{listener.port}"
            ),
        ]
        for body in bodies:  # the creation check sees a public address and lets them through
            check_source_reach(CreateSourcePayload.model_validate(body), get_settings())
        rebind("git.rebind.test", "127.0.0.1")
        rebind("s3.rebind.test", "127.0.0.1")
        git = create_github_source(f"https://git.rebind.test:{listener.port}", "octo/repo")
        s3 = create_s3_source(
            s3_server, "bucket", endpoint_url=f"http://s3.rebind.test:{listener.port}"
        )
        git_result = run_github_sync(git, {"branch": "main"})
        s3_result = run_s3_sync(s3, "doc.md")
    assert not git_result.success and "loopback" in git_failure(git_result)
    assert not s3_result.success and "loopback" in failure_description(s3_result)
    assert listener.received == []
