"""Nothing lost, nothing stuck, on the default ``chroma-sync serve`` (issue 12).

Contract, on real processes (serve with its Chroma server, Dagster daemon and webserver,
SeaweedFS, a git daemon and a local web site):
- 20 invocations sent at once (add-file uploads and an S3 batch into one collection, a web and
  a git source beside them) all complete with no failed Dagster run, the shared collection
  equals the same inputs synced one at a time into a fresh collection (ids, documents,
  metadata), and its vector segment stays within 3x the fresh one's size on disk;
- the Dagster daemon killed under serve: the API answers throughout, serve restarts the daemon
  and an invocation accepted meanwhile runs exactly once;
- (the whole tree killed: ``test_serve_crash.py``).
"""

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sync_pipelines.devtools.demo_sources import DEMO_DATABASE, github_source, web_source
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.devtools.web_site import LocalWebSite
from tests.test_deploy.serve_helpers import Client, Serve, word

BUCKET = "reliability"
ENV = {"CHROMA_SYNC_CRAWL_ALLOW_HOSTS": '["127.0.0.1"]', "CHROMA_SYNC_LAUNCH_GRACE_SECONDS": "8"}
RUNS_QUERY = """query Runs($tag: String!) { runsOrError(filter: {tags: [{key:
"chroma_sync/invocation_id", value: $tag}]}) { ... on Runs { results { runId status } } } }"""
FAILED_RUNS = """query { runsOrError(filter: {statuses: [FAILURE]}) {
... on Runs { results { runId } } } }"""


def document(name: str, sections: int) -> bytes:
    """Deterministic markdown of ``sections`` distinct sections."""
    parts = [f"# {name}\n"]
    for i in range(sections):
        parts.append(
            f"\n## {name} part {i}\n\nThe {name} service handles request {i * 7 + 3} by "
            f"checking quota {i % 5}, writing ledger entry {i * 13} and replying within "
            f"{100 + i} milliseconds to the caller.\n"
        )
    return "".join(parts).encode()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    server = Serve(tmp_path_factory.mktemp("serve-reliability"), ENV).start()
    try:
        yield server
    finally:
        server.stop()


def s3_of(serve: Serve) -> LocalS3Server:
    """A handle on serve's SeaweedFS (keys, endpoint), without starting another."""
    return LocalS3Server(serve.home / "s3", s3_port=serve.s3_port)


def graphql(serve: Serve, query: str, **variables: Any) -> Any:
    url = f"http://127.0.0.1:{serve.dagster_port}/graphql"
    response = requests.post(url, json={"query": query, "variables": variables}, timeout=30)
    return response.json()["data"]["runsOrError"]["results"]


def snapshot(serve: Serve, collection: str) -> dict[str, tuple[str, dict[str, Any]]]:
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=serve.chroma_port, database=DEMO_DATABASE)
    got = client.get_collection(collection).get(include=["documents", "metadatas"])
    return {
        cid: (doc, dict(meta))
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


def segment_bytes(store: Path, collection: str) -> tuple[int, int]:
    """(allocated, apparent) bytes of a collection's vector segment folder."""
    uri = f"{(store / 'chroma.sqlite3').as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute(
            "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id "
            "WHERE c.name = ? AND s.scope = 'VECTOR'",
            (collection,),
        ).fetchall()
    allocated = apparent = 0
    for (segment,) in rows:
        for path in (store / segment).rglob("*"):
            if path.is_file():
                stat = path.stat()
                allocated += stat.st_blocks * 512
                apparent += stat.st_size
    return allocated, apparent


def test_twenty_invocations_at_once_end_like_one_at_a_time(serve: Serve, tmp_path: Path) -> None:
    admin = Client(serve.api, serve.token(DEMO_DATABASE, admin=True))
    member = Client(serve.api, serve.token(DEMO_DATABASE, admin=False))
    s3 = s3_of(serve)
    s3.client().create_bucket(Bucket=BUCKET)
    objects = {f"docs/object-{i}.md": document(f"object{i}", 12) for i in range(8)}
    for key, data in objects.items():
        s3.client().put_object(Bucket=BUCKET, Key=key, Body=data)
    uploads = {f"upload-{i}.md": document(f"upload{i}", 20) for i in range(10)}
    sources = {
        name: admin.post("/api/v1/sources", s3.source_body(DEMO_DATABASE, BUCKET, name))
        for name in ("shared", "fresh")
    }
    (tmp_path / "git").mkdir()
    with GitDaemon(tmp_path / "git") as daemon, LocalWebSite() as site:
        git, web = github_source(tmp_path / "git", daemon), web_source(site)
        git_id, web_id = (
            admin.post("/api/v1/sources", git.body),
            admin.post("/api/v1/sources", web.body),
        )
        at_once = [member.upload(DEMO_DATABASE, "shared", n, d) for n, d in uploads.items()]
        at_once += [
            admin.post(f"/api/v1/sources/{sources['shared']}/invocations", {"object_key": key})
            for key in objects
        ]
        at_once.append(admin.post(f"/api/v1/sources/{git_id}/invocations", git.invocations[0][1]))
        at_once.append(admin.post(f"/api/v1/sources/{web_id}/invocations", web.invocations[0][1]))
        assert len(at_once) == 20
        finished = admin.wait_all(at_once, timeout=600)
        assert {word(s) for s in finished.values()} == {"complete"}, finished

        for name, data in uploads.items():
            admin.wait_all([member.upload(DEMO_DATABASE, "fresh", name, data)], timeout=180)
        for key in objects:
            path = f"/api/v1/sources/{sources['fresh']}/invocations"
            admin.wait_all([admin.post(path, {"object_key": key})], timeout=180)

    assert graphql(serve, FAILED_RUNS) == []
    shared, fresh = snapshot(serve, "shared"), snapshot(serve, "fresh")
    assert {meta["document_key"] for _, meta in shared.values()} == {*uploads, *objects}
    assert len(shared) > len(uploads) + len(objects)
    assert shared == fresh
    assert snapshot(serve, git.collection) and snapshot(serve, web.collection)
    store = serve.home / "chroma"
    (shared_alloc, shared_size), (fresh_alloc, fresh_size) = (
        segment_bytes(store, "shared"),
        segment_bytes(store, "fresh"),
    )
    assert 0 < shared_alloc <= 3 * fresh_alloc, (shared_alloc, fresh_alloc)
    assert 0 < shared_size <= 3 * fresh_size, (shared_size, fresh_size)


def test_a_killed_daemon_is_restarted_and_accepted_work_runs_once(serve: Serve) -> None:
    member = Client(serve.api, serve.token(DEMO_DATABASE, admin=False))
    (daemon,) = serve.children("dagster-daemon run")
    os.kill(daemon, signal.SIGKILL)
    accepted = member.upload(DEMO_DATABASE, "while-down", "note.md", document("note", 3))
    health = requests.get(f"{serve.api}/health", timeout=10)
    assert health.status_code in (200, 503)  # it answers: whether it is healthy is its own call
    assert word(member.status(accepted)) == "pending"
    finished = member.wait_all([accepted], timeout=240)
    assert word(finished[accepted]) == "complete", finished
    assert any("dagster-daemon exited with code -9; restarting" in ln for ln in serve.stderr)
    assert any(ln.startswith("serve: dagster-daemon restarted (pid ") for ln in serve.stderr)
    assert serve.children("dagster-daemon run") != [daemon]
    deadline = time.monotonic() + 60  # the run ends a moment after its last op
    while (runs := graphql(serve, RUNS_QUERY, tag=accepted)) and any(
        run["status"] in ("STARTING", "STARTED") for run in runs
    ):
        assert time.monotonic() < deadline, runs
        time.sleep(0.5)
    assert [run["status"] for run in runs] == ["SUCCESS"]
