"""The direct launcher leaves S3 bursts to the batching sensor.

Contract: with batching on, an S3 invocation is launched through GraphQL only while it is the
only pending invocation of its source; with others pending, nothing is posted and the sensor
batches them; other sources' pending invocations do not count; with batching off
(``max_batch_invocations`` 1) every invocation is launched directly as before. Runs are posted
to a real HTTP server on 127.0.0.1 standing in for the Dagster webserver.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from api_bridge.launcher import RUN_KEY_TAG, GraphQLRunLauncher
from sync_pipelines.catalog import Catalog
from sync_pipelines.names import SYNC_S3_OBJECT_JOB
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata, Job, Source
from sync_pipelines.settings import get_settings

S3 = {"bucket_name": "docs", "region": "us-east-1"}


class Recorder(BaseHTTPRequestHandler):
    """Answers every GraphQL launch with success and records the request body."""

    posted: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.posted.append(body)
        answer = {
            "data": {
                "launchRun": {
                    "__typename": "LaunchRunSuccess",
                    "run": {"runId": f"run-{len(Recorder.posted)}"},
                }
            }
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def webserver() -> Iterator[str]:
    Recorder.posted = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def source(store: Catalog, collection: str) -> Source:
    return store.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": "db1", "s3": {**S3, "collection_name": collection}}
        )
    )


def invoke(store: Catalog, src: Source, key: str) -> Job:
    assert src.s3 is not None
    metadata = IndexJobMetadata.model_validate(
        {
            "s3": {"bucket_name": "docs", "object_key": key},
            "database_name": "db1",
            "collection_name": src.s3.collection_name,
        }
    )
    return store.create_invocation(src.id, metadata)


def posted_run_keys() -> list[str]:
    keys = []
    for body in Recorder.posted:
        tags = body["variables"]["params"]["executionMetadata"]["tags"]
        keys.append(next(t["value"] for t in tags if t["key"] == RUN_KEY_TAG))
    return keys


def test_only_a_lone_pending_s3_invocation_is_launched_directly(webserver: str) -> None:
    store = Catalog(get_settings().resolved_catalog_url)
    launcher = GraphQLRunLauncher(
        webserver, store, max_object_bytes=1000, max_batch_invocations=100
    )
    one, two = source(store, "kb-one"), source(store, "kb-two")
    first = invoke(store, one, "a.md")
    elsewhere = invoke(store, two, "x.md")

    assert launcher.launch(first.id) == "run-1"
    assert launcher.launch(elsewhere.id) == "run-2"
    second = invoke(store, one, "b.md")
    third = invoke(store, one, "c.md")
    assert launcher.launch(second.id) is None
    assert launcher.launch(third.id) is None

    assert posted_run_keys() == [str(first.id), str(elsewhere.id)]
    params = Recorder.posted[0]["variables"]["params"]
    assert params["selector"]["jobName"] == SYNC_S3_OBJECT_JOB
    assert [j.status.word for j in (second, third)] == ["pending", "pending"]


def test_batching_off_launches_every_invocation(webserver: str) -> None:
    store = Catalog(get_settings().resolved_catalog_url)
    launcher = GraphQLRunLauncher(webserver, store, max_object_bytes=1000, max_batch_invocations=1)
    src = source(store, "kb-one")
    jobs = [invoke(store, src, f"k{i}.md") for i in range(3)]

    assert [launcher.launch(j.id) for j in jobs] == ["run-1", "run-2", "run-3"]
    assert posted_run_keys() == [str(j.id) for j in jobs]
