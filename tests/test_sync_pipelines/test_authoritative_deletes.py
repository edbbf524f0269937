"""Only an authoritative answer deletes chunks (``sync_pipelines.core.deletion_policy``).

Contract: each source is first synced fully and its collection snapshotted (ids, documents,
metadatas, collection metadata); then the source is broken and re-synced through the real
job. A transient answer — robots.txt 503 or timeout, an unresolvable starting host, a port
where nothing listens, a starting page answering 503, a git fetch that fails — fails the run
with an error naming the URL / repository and the cause, and the snapshot is unchanged. An S3
reconcile whose listing answers 500 (or ends early) queues nothing and reports
``s3://bucket/prefix: <cause>``. A page that fails (or is access-denied) keeps its chunks, and
so do the pages only it links to. Authoritative answers still delete: a robots.txt
``Disallow`` here; 404 pages, deleted S3 objects and deleted git files in ``test_web_job``,
``test_s3_job`` and ``test_github_job``.
"""

import http.client
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import pytest
from sqlalchemy import update

from sensors.schedules import dump_cursor, source_schedule_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.tables import SourceRow
from sync_pipelines.definitions import build_definitions, build_resources
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.devtools.web_site import LocalWebSite, Page
from sync_pipelines.names import CRAWL_WEB_OP, SYNC_WEB_JOB
from sync_pipelines.ops.web import WebSyncConfig
from sync_pipelines.schemas import CreateSourcePayload, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines import github_helpers, s3_helpers
from tests.test_sync_pipelines.s3_helpers import failure_description

SITE = "site"
Snapshot = tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, Any]]


def catalog() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def web_snapshot() -> Snapshot:
    coll = github_helpers.collection(SITE)
    return github_helpers.contents(SITE), dict(coll.metadata or {})


# --- web -----------------------------------------------------------------------------------
@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWebSite]:
    """/ links to /a, /b, /c; /a links to /a/deep; quick retries and a 1 s timeout."""
    monkeypatch.setenv("CHROMA_SYNC_CRAWL_ALLOW_HOSTS", '["127.0.0.1"]')
    monkeypatch.setenv("CHROMA_SYNC_CRAWL_MAX_RETRIES", "1")
    monkeypatch.setenv("CHROMA_SYNC_CRAWL_TIMEOUT_S", "1")
    get_settings.cache_clear()
    with LocalWebSite() as server:
        server.add_html("/", "Home", "<h1>Welcome</h1><p>Start here.</p>", ["/a", "/b", "/c"])
        for name in ("a", "b", "c"):
            body = f"<h1>Page {name.upper()}</h1><p>{name * 3} explains the {name} feature.</p>"
            server.add_html(f"/{name}", f"Page {name.upper()}", body, ["/a/deep"] * (name == "a"))
        server.add_html("/a/deep", "Deep", "<h1>Deep</h1><p>Only page A links here.</p>")
        yield server


def web_source(site: LocalWebSite) -> Source:
    payload = CreateSourcePayload.model_validate(
        {"database_name": github_helpers.DATABASE, "web_scrape": {"starting_url": site.url("/")}}
    )
    return catalog().create_source(payload)


def run_web(source: Source) -> dg.ExecuteInProcessResult:
    job = build_definitions(get_settings()).resolve_job_def(SYNC_WEB_JOB)
    config = WebSyncConfig(source_id=str(source.id), target_collection=SITE)
    return job.execute_in_process(
        run_config=dg.RunConfig(ops={CRAWL_WEB_OP: config}), raise_on_error=False
    )


def synced_site(site: LocalWebSite) -> tuple[Source, Snapshot]:
    source = web_source(site)
    first = run_web(source)
    assert first.success, failure_description(first)
    paths = {"/", "/a", "/b", "/c", "/a/deep"}
    assert github_helpers.document_keys(SITE) == {site.url(p) for p in paths}
    return source, web_snapshot()


def move_start(source: Source, url: str) -> None:
    """Point the stored source at another starting URL (as if its site moved)."""
    assert source.web_scrape is not None
    config = {**source.web_scrape.model_dump(mode="json"), "starting_url": url}
    with catalog().engine.begin() as conn:
        conn.execute(update(SourceRow).where(SourceRow.id == source.id).values(config=config))


def stop(site: LocalWebSite) -> str:
    site.__exit__(None, None, None)
    return site.url("/")


@pytest.mark.parametrize(
    ("breakage", "named", "cause"),
    [
        ("robots_503", "/robots.txt", "cannot be read: HTTP 503 after 1 retries"),
        ("robots_timeout", "/robots.txt", "cannot be read: timed out after 1s (after 1 retries)"),
        ("start_503", "/", "HTTP 503 after 1 retries"),
        ("sitemap_503", "/sitemap.xml", "HTTP 503 after 1 retries"),
        ("unresolvable_host", "http://docs.chroma-sync.invalid/robots.txt", "DNS lookup failed"),
        ("nothing_listens", "/robots.txt", "connection refused (after 1 retries)"),
    ],
)
def test_transient_web_answers_fail_the_run_and_touch_nothing(
    site: LocalWebSite, breakage: str, named: str, cause: str
) -> None:
    source, before = synced_site(site)
    start = site.url("/")
    if breakage == "robots_503":
        site.pages["/robots.txt"] = Page("down", "text/plain", 503)
    elif breakage == "robots_timeout":
        site.pages["/robots.txt"] = Page("User-agent: *\nAllow: /\n", "text/plain", delay_s=3)
    elif breakage == "sitemap_503":  # pages only it lists would look unreachable
        site.pages["/sitemap.xml"] = Page("down", "text/plain", 503)
    elif breakage == "start_503":  # its known links still lead to readable pages
        site.pages["/"] = Page("<h1>down</h1>", status=503)
    elif breakage == "unresolvable_host":
        start = "http://docs.chroma-sync.invalid/"
        move_start(source, start)
    else:
        stop(site)

    result = run_web(source)

    assert not result.success
    message = failure_description(result)
    location = named if named.startswith("http") else site.url(named)
    assert message.startswith(f"{start}: ")
    assert location in message and cause in message, message
    assert web_snapshot() == before


@pytest.mark.parametrize("status", [500, 403])
def test_a_failing_page_keeps_its_chunks_and_those_only_it_links_to(
    site: LocalWebSite, status: int
) -> None:
    source, before = synced_site(site)
    site.pages["/a"] = Page("<h1>no</h1>", status=status)

    result = run_web(source)

    assert result.success, failure_description(result)
    assert result.output_for_node("upsert_web_op")["pages_removed"] == 0
    assert web_snapshot() == before


def test_robots_disallow_still_removes_the_pages_it_disallows(site: LocalWebSite) -> None:
    source, before = synced_site(site)
    site.add_robots("User-agent: *\nDisallow: /b\n")

    result = run_web(source)

    assert result.success, failure_description(result)
    assert github_helpers.document_keys(SITE) == {site.url(p) for p in ("/", "/a", "/c", "/a/deep")}
    kept = {cid: v for cid, v in before[0].items() if v[1]["document_key"] != site.url("/b")}
    assert github_helpers.contents(SITE) == kept


# --- S3 scheduled reconcile ----------------------------------------------------------------
class _Proxy(ThreadingHTTPServer):
    daemon_threads = True
    upstream: tuple[str, int]
    mode = "pass"  # "pass", "error" (list requests answer 500) or "truncate"


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forwards every request to SeaweedFS unchanged (Host included, so signatures hold)."""

    server: _Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        listing = self.command == "GET" and "list-type=2" in self.path
        if listing and self.server.mode == "error":
            error = b"<Error><Code>InternalError</Code><Message>We hit a snag</Message></Error>"
            return self._answer(500, {"Content-Type": "application/xml"}, error)
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            upstream.request(self.command, self.path, body, dict(self.headers.items()))
            resp = upstream.getresponse()
            data = resp.read()
            headers = {k: v for k, v in resp.getheaders() if k.lower() != "transfer-encoding"}
        finally:
            upstream.close()
        if listing and self.server.mode == "truncate":  # first object only, no token
            data = re.sub(rb"(</Contents>).*(?=</ListBucketResult>)", rb"\1", data, flags=re.S)
            data = data.replace(b"<IsTruncated>false</IsTruncated>", b"")
            data = data.replace(
                b"</ListBucketResult>", b"<IsTruncated>true</IsTruncated></ListBucketResult>"
            )
        self._answer(resp.status, headers, data)

    def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward


@pytest.fixture
def proxy(s3_server: LocalS3Server) -> Iterator[_Proxy]:
    """A 127.0.0.1 HTTP proxy in front of SeaweedFS whose list answers a test can break."""
    server = _Proxy(("127.0.0.1", 0), _ProxyHandler)
    parts = urlsplit(s3_server.endpoint_url)
    server.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def tick() -> dg.SensorResult:
    resources = build_resources(get_settings())
    context = dg.build_sensor_context(
        cursor=dump_cursor(datetime.now(UTC) - timedelta(minutes=10)),
        resources={k: resources[k] for k in ("catalog", "s3", "chroma", "embedder")},
    )
    result = source_schedule_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("error", "listing failed: InternalError (HTTP 500): We hit a snag"),
        ("truncate", "listing truncated without a continuation token"),
    ],
)
def test_failed_s3_listing_fails_the_reconcile_and_touches_nothing(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, proxy: _Proxy, mode: str, cause: str
) -> None:
    keys = ("a.md", "b.md", "c.md")
    for key in keys:
        s3_client.put_object(Bucket=bucket, Key=key, Body=f"# {key}\n\nText of {key}.\n".encode())
    endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
    source = s3_helpers.create_s3_source(
        s3_server,
        bucket,
        endpoint_url=endpoint,
        auto_sync="direct",
        schedule={"cron": "*/5 * * * *"},
    )
    for key in keys:
        assert s3_helpers.run_s3_sync(source, key).success
    coll = s3_helpers.collection()
    before = coll.get(include=["documents", "metadatas"])
    proxy.mode = mode

    result = tick()

    assert result.skip_reason is not None
    assert f"source {source.id}: s3://{bucket}/: {cause}" in str(result.skip_reason)
    (failed,) = catalog().list_invocations(s3_helpers.DATABASE, source_id=source.id, limit=10)
    assert failed.status.word.value == "failed"
    assert failed.status.error == f"scheduled reconcile: s3://{bucket}/: {cause}"
    assert coll.get(include=["documents", "metadatas"]) == before


# --- git -----------------------------------------------------------------------------------
@pytest.mark.parametrize("breakage", ["daemon_stopped", "repository_removed"])
def test_failed_git_fetch_fails_the_resync_and_touches_nothing(
    tmp_path: Path, breakage: str
) -> None:
    root = tmp_path / "served"
    repo, name = github_helpers.new_repo(root)
    files = {"README.md": "# Demo\n\nA demo.\n", "src/app.py": "def main():\n    return 1\n"}
    fast_import(repo, [CommitSpec(files)])
    with GitDaemon(root) as daemon:
        base = f"git://127.0.0.1:{daemon.port}"
        source = github_helpers.create_github_source(base, name)
        assert github_helpers.run_github_sync(source, {"branch": "main"}).success
        before = github_helpers.contents(), dict(github_helpers.collection().metadata or {})
        fast_import(repo, [CommitSpec({"src/app.py": None})])  # would delete src/app.py
        if breakage == "repository_removed":
            shutil.rmtree(repo)
        else:
            daemon.__exit__(None, None, None)

        result = github_helpers.run_github_sync(source, {"branch": "main"})

    assert not result.success
    message = failure_description(result)
    assert message.startswith(f"{base}/{name}: "), message
    cause = "Connection refused" if breakage == "daemon_stopped" else "no such repository"
    assert cause in message, message
    assert (github_helpers.contents(), dict(github_helpers.collection().metadata or {})) == before
