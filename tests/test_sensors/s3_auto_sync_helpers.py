"""Helpers for the S3 auto-sync sensor tests: sources, uploads, ticks and invocation views."""

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from sensors.s3_auto_sync import s3_auto_sync_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.schemas import CreateSourcePayload, Job, Source
from sync_pipelines.settings import get_settings

DATABASE = "autodb"


def store() -> Catalog:
    """The test's catalog (under the per-test chroma-sync home)."""
    return Catalog(get_settings().resolved_catalog_url)


def auto_source(
    server: LocalS3Server,
    bucket: str,
    auto_sync: str | None = "direct",
    *,
    collection: str = "kb-auto",
    **s3: Any,
) -> Source:
    """Store an S3 source on the local server with the given ``auto_sync`` mode."""
    if auto_sync is not None:
        s3["auto_sync"] = auto_sync
    body = server.source_body(DATABASE, bucket, collection, **s3)
    return store().create_source(CreateSourcePayload.model_validate(body))


def put(client: Any, bucket: str, objects: dict[str, bytes | str]) -> None:
    """Upload objects (in parallel when there are many)."""

    def one(item: tuple[str, bytes | str]) -> None:
        key, body = item
        data = body.encode() if isinstance(body, str) else body
        client.put_object(Bucket=bucket, Key=key, Body=data)

    if len(objects) < 20:
        for item in objects.items():
            one(item)
        return
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, objects.items()))


def sidecar(**fields: Any) -> str:
    """A sidecar's JSON text."""
    return json.dumps({"version": "chroma-v1", **fields})


class Ticker:
    """Evaluates the sensor with a carried cursor, like the daemon does."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.cursor: str | None = None

    def tick(self, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
        """Run one tick (with ``cursor`` instead of the carried one, if given)."""
        context = dg.build_sensor_context(
            cursor=cursor if cursor is not None else self.cursor,
            resources={
                "catalog": CatalogResource(url=get_settings().resolved_catalog_url),
                "s3": SyncS3Resource(allow_hosts=["127.0.0.1"]),
            },
            instance=self.instance,
        )
        result = s3_auto_sync_sensor(context)
        assert isinstance(result, dg.SensorResult | dg.SkipReason)
        if isinstance(result, dg.SensorResult):
            assert not result.run_requests
            if result.cursor is not None:
                self.cursor = result.cursor
        return result

    def state(self) -> dict[str, Any]:
        """The cursor's per-source entries."""
        assert self.cursor is not None
        data = json.loads(self.cursor)
        assert data["v"] == 1
        sources: dict[str, Any] = data["sources"]
        return sources


def skipped(result: dg.SensorResult | dg.SkipReason) -> bool:
    """Whether the tick reported a skip (with or without a cursor update)."""
    return isinstance(result, dg.SkipReason) or result.skip_reason is not None


def invocations(source: Source, status: str | None = None) -> list[Job]:
    """The source's invocations, oldest first."""
    return store().list_invocations(
        source_id=source.id, status=status, limit=10_000, order_by="ASC"
    )


def keys_of(jobs: list[Job]) -> list[str]:
    """The object keys of S3 invocations, sorted."""
    keys = [job.metadata.s3.object_key for job in jobs if job.metadata.s3 is not None]
    return sorted(k for k in keys if k is not None)


def complete_all(source: Source) -> None:
    """Finish every pending invocation of ``source`` (as a successful run would)."""
    catalog = store()
    for job in invocations(source, "pending"):
        assert catalog.mark_complete(job.id)


def skip_message(result: dg.SensorResult | dg.SkipReason) -> str:
    """The tick's skip message ('' when it did not skip)."""
    reason = result if isinstance(result, dg.SkipReason) else result.skip_reason
    return (reason.skip_message or "") if reason is not None else ""
