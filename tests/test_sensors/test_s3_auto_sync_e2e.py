"""End to end: a bucket watched by a real Dagster daemon fills its Chroma collection by itself.

Contract: with the daemon running (auto-sync sensor every second), an S3 source created with
``auto_sync: direct`` gets, without any create-invocation call, one invocation per object
already in the bucket and one per object uploaded later; each completes, and the collection
then holds the objects' chunks under ids ``sha256(key)-i`` with their keys as ``document_key``.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.core.records import sha256_hex
from sync_pipelines.devtools.chroma_server import ChromaServer
from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.resources.chroma import ChromaResource, reset_client_cache
from sync_pipelines.schemas import CreateSourcePayload, Job, Source
from sync_pipelines.settings import Settings, get_settings

DATABASE = "auto_e2e"
TERMINAL = {"complete", "failed", "cancelled"}


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auto-e2e")


@pytest.fixture(scope="module")
def stack(e2e_home: Path) -> Iterator[DagsterStack]:
    env = {"CHROMA_SYNC_HOME": str(e2e_home / "home"), "CHROMA_SYNC_S3_SENSOR_INTERVAL_S": "1"}
    with (
        ChromaServer(e2e_home / "home" / "chroma"),
        DagsterStack(e2e_home / "dagster", env=env) as dagster,
    ):
        yield dagster


@pytest.fixture
def settings(
    stack: DagsterStack, e2e_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    monkeypatch.setenv("CHROMA_SYNC_HOME", str(e2e_home / "home"))
    get_settings.cache_clear()
    yield get_settings()
    reset_client_cache()


def wait_for_complete(
    catalog: Catalog, source: Source, count: int, timeout: float = 240
) -> list[Job]:
    deadline = time.monotonic() + timeout
    jobs: list[Job] = []
    while time.monotonic() < deadline:
        jobs = catalog.list_invocations(source_id=source.id, limit=1000, order_by="ASC")
        words = [job.status.word.value for job in jobs]
        if len(jobs) >= count and all(word in TERMINAL for word in words):
            return jobs
        time.sleep(0.5)
    raise AssertionError(f"invocations not finished: {[j.status for j in jobs]}")


def object_keys(jobs: list[Job]) -> list[str]:
    return sorted(job.metadata.s3.object_key or "" for job in jobs if job.metadata.s3)


def test_direct_auto_sync_fills_the_collection(
    settings: Settings, s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    files = {
        "kb/refunds.md": "# Refunds\n\nRefunds are issued within 14 days.\n",
        "kb/shipping.txt": "Orders ship within two business days.\n",
    }
    for key, text in files.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=text.encode())
    catalog = Catalog(settings.resolved_catalog_url)
    body = s3_server.source_body(
        DATABASE, bucket, "kb-auto-e2e", path_prefix="kb/", auto_sync="direct"
    )
    source = catalog.create_source(CreateSourcePayload.model_validate(body))

    first = wait_for_complete(catalog, source, 2)
    assert object_keys(first) == sorted(files)
    assert [job.status.word.value for job in first] == ["complete", "complete"]

    later = {"kb/returns.md": "# Returns\n\nReturns are accepted for 30 days.\n"}
    s3_client.put_object(Bucket=bucket, Key="kb/returns.md", Body=later["kb/returns.md"].encode())
    s3_client.put_object(Bucket=bucket, Key="elsewhere.md", Body=b"# Not under the prefix\n")
    every = wait_for_complete(catalog, source, 3)
    assert object_keys(every) == sorted({**files, **later})
    assert {job.status.word.value for job in every} == {"complete"}

    reset_client_cache()
    # The stack's Chroma server owns the store: this resolves to an HTTP client of it.
    collection = (
        ChromaResource(mode="persistent", path=str(settings.resolved_chroma_path))
        .get_client(DATABASE)
        .get_collection("kb-auto-e2e")
    )
    got = collection.get(include=["metadatas", "documents"])
    by_key = {
        m["document_key"]: (cid, doc)
        for cid, m, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
    }
    assert sorted(by_key) == sorted({**files, **later})
    for key, (chunk_id, document) in by_key.items():
        assert chunk_id == f"{sha256_hex(key)}-0"
        assert document.strip() in {**files, **later}[key]
    assert "14 days" in by_key["kb/refunds.md"][1]
