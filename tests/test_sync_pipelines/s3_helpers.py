"""Helpers for S3 job tests: create sources in the catalog and run the job in process."""

from typing import Any

import chromadb
import dagster as dg

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import FETCH_S3_OBJECT_OP, SYNC_S3_OBJECT_JOB
from sync_pipelines.ops.s3 import S3ObjectConfig
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata, Job, Source
from sync_pipelines.settings import get_settings

DATABASE = "testdb"


def create_s3_source(
    server: LocalS3Server, bucket: str, *, collection: str = "docs", **s3_extra: Any
) -> Source:
    """Store an S3 source for ``bucket`` on the local server (inline keys)."""
    payload = CreateSourcePayload.model_validate(
        server.source_body(DATABASE, bucket, collection, **s3_extra)
    )
    return Catalog(get_settings().resolved_catalog_url).create_source(payload)


def run_s3_sync(source: Source, key: str, **config: Any) -> dg.ExecuteInProcessResult:
    """Run ``sync_s3_object_job`` in process for one object."""
    job = build_definitions(get_settings()).resolve_job_def(SYNC_S3_OBJECT_JOB)
    run_config = dg.RunConfig(
        ops={FETCH_S3_OBJECT_OP: S3ObjectConfig(source_id=str(source.id), object_key=key, **config)}
    )
    return job.execute_in_process(run_config=run_config, raise_on_error=False)


def failure_description(result: dg.ExecuteInProcessResult) -> str:
    """The description of the run's first step failure."""
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                return str(data.user_failure_data.description)
            return str(data.error.message if data.error else "")
    raise AssertionError("the run had no step failure")


def s3_invocation(source: Source, key: str) -> Job:
    """Record a pending S3 invocation of ``source`` for ``key`` in the catalog."""
    assert source.s3 is not None
    metadata = IndexJobMetadata.model_validate(
        {
            "s3": {"bucket_name": source.s3.bucket_name, "object_key": key},
            "database_name": DATABASE,
            "collection_name": source.s3.collection_name,
        }
    )
    return Catalog(get_settings().resolved_catalog_url).create_invocation(source.id, metadata)


def collection(name: str = "docs") -> Any:
    """The test database's collection ``name`` in the embedded Chroma."""
    client = chromadb.PersistentClient(
        path=str(get_settings().resolved_chroma_path),
        database=DATABASE,
        settings=chromadb.Settings(anonymized_telemetry=False),
    )
    return client.get_collection(name)


def chunks_of(key: str, name: str = "docs") -> dict[str, dict[str, Any]]:
    """The chunks of document ``key`` in collection ``name``, by id: metadata and text."""
    got = collection(name).get(where={"document_key": key}, include=["metadatas", "documents"])
    return {
        cid: {"meta": meta, "doc": doc}
        for cid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
    }
