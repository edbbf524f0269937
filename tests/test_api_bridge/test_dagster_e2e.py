"""End to end: the HTTP API in front of a real Dagster instance (daemon + webserver).

Contract: an S3 invocation created over HTTP runs as a Dagster run tagged with the invocation
and source ids, goes pending -> processing -> complete, and its chunks can be queried; with
Dagster stopped, invocations are accepted and stay pending, a pending one can be cancelled, and
once Dagster is back every other invocation completes with exactly one run (one batch run for
the source's pending invocations) and the cancelled one never runs.
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, RunsFilter

from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import INVOCATION_TAG, SOURCE_TAG, SYNC_S3_BATCH_JOB
from sync_pipelines.ops.tracking import batch_invocation_ids
from sync_pipelines.resources.chroma import ChromaResource, reset_client_cache
from sync_pipelines.settings import Settings
from tests.test_api_bridge.stack_helpers import Api, live_api, running_stack, word

DATABASE = "e2e_db"


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def stack(e2e_home: Path) -> Iterator[DagsterStack]:
    with running_stack(e2e_home, timeout=90) as dagster:
        yield dagster


@pytest.fixture
def api(
    stack: DagsterStack, e2e_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, Settings]]:
    with live_api(stack, e2e_home, DATABASE, monkeypatch) as api:
        yield api


def create_source(api: Api, s3: LocalS3Server, bucket: str) -> str:
    body = s3.source_body(DATABASE, bucket, f"kb-{bucket}")
    response = api.call("POST", "/api/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["source_id"])


def runs_of(stack: DagsterStack, invocation_id: str) -> list[Any]:
    """Runs started for the invocation: tagged with it, or batch runs listing it."""
    assert DagsterInstance.get().root_directory == str(stack.dagster_home)
    with DagsterInstance.get() as instance:
        tagged = instance.get_runs(filters=RunsFilter(tags={INVOCATION_TAG: invocation_id}))
        batches = instance.get_runs(filters=RunsFilter(job_name=SYNC_S3_BATCH_JOB))
        listed = [
            run
            for run in batches
            if uuid.UUID(invocation_id) in batch_invocation_ids(run.run_config)
        ]
        return [*tagged, *listed]


def test_s3_invocation_runs_to_complete_and_is_queryable(
    api: tuple[Api, Settings],
    stack: DagsterStack,
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
) -> None:
    client, settings = api
    s3_client.put_object(
        Bucket=bucket, Key="faq.md", Body=b"# Refunds\n\nRefunds are issued within 14 days.\n"
    )
    source_id = create_source(client, s3_server, bucket)

    invocation_id = client.invoke(source_id, "faq.md")
    seen = client.wait(invocation_id)

    assert [word(s) for s in seen][-1] == "complete", seen
    assert "processing" in [word(s) for s in seen] or len(seen) <= 2
    assert seen[-1]["complete"]["duration_ms"] > 0
    runs = runs_of(stack, invocation_id)
    assert len(runs) == 1
    assert runs[0].tags[SOURCE_TAG] == source_id
    reset_client_cache()
    # The stack's Chroma server owns the store: this resolves to an HTTP client of it.
    collection = (
        ChromaResource(mode="persistent", path=str(settings.resolved_chroma_path))
        .get_client(DATABASE)
        .get_collection(f"kb-{bucket}")
    )
    got = collection.get(include=["metadatas", "documents"])
    assert [m["document_key"] for m in got["metadatas"]] == ["faq.md"]
    assert "14 days" in got["documents"][0]
    assert collection.metadata["finished_ingest"] is True


def test_invocations_accepted_while_dagster_is_down_run_once_when_it_is_back(
    api: tuple[Api, Settings],
    stack: DagsterStack,
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
) -> None:
    client, _ = api
    keys = [f"doc-{i}.md" for i in range(3)]
    for key in keys:
        s3_client.put_object(Bucket=bucket, Key=key, Body=f"# {key}\n\nBody of {key}.\n".encode())
    source_id = create_source(client, s3_server, bucket)
    stack.stop()

    invocation_ids = [client.invoke(source_id, key) for key in keys]
    cancelled = client.invoke(source_id, "never.md")
    assert client.call("PUT", f"/api/v1/invocations/{cancelled}").status_code == 202
    time.sleep(3)
    assert [client.status(i) for i in invocation_ids] == ["pending"] * 3

    stack.start()
    finals = [client.wait(i)[-1] for i in invocation_ids]

    assert [word(s) for s in finals] == ["complete"] * 3
    for invocation_id in invocation_ids:
        assert len(runs_of(stack, invocation_id)) == 1
    time.sleep(3)  # one more sensor tick must not start anything for these
    assert [len(runs_of(stack, i)) for i in invocation_ids] == [1, 1, 1]
    # Pending together, they were served by one batch run.
    assert len({runs_of(stack, i)[0].run_id for i in invocation_ids}) == 1
    assert client.status(cancelled) == "cancelled"
    assert runs_of(stack, cancelled) == []
    assert uuid.UUID(cancelled)
