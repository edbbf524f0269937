"""The S3 fetch op: one object, with the size cap checked before download."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from sync_pipelines.ops.documents import NETWORK_RETRY, FetchedDocument, failure
from sync_pipelines.ops.s3_reader import S3SourceError, S3SourceReader
from sync_pipelines.ops.tracking import start_invocation
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.s3 import SyncS3Resource


class S3ObjectConfig(dg.Config):
    """Which object to sync, and how (the run config of ``sync_s3_object_job``)."""

    source_id: str = Field(description="Id of an S3 source in the catalog.")
    object_key: str = Field(description="Full object key, including the source's path prefix.")
    custom_id: str | None = Field(
        default=None, description="Chunk ids become '<custom_id>-<i>' instead of sha256(key)."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Metadata merged into every chunk."
    )
    target_collection: str | None = Field(
        default=None, description="Collection to write; default: the source's collection_name."
    )
    max_object_bytes: int = Field(
        default=200 * 1024 * 1024, description="Objects larger than this fail before download."
    )


@dg.op(
    description=(
        "Read the S3 source from the catalog, check the object's size, and download it. "
        "A run for a cancelled invocation stops here, before anything is written."
    ),
    retry_policy=NETWORK_RETRY,
    out=dg.Out(FetchedDocument, is_required=False),
)
def fetch_s3_object_op(
    context: dg.OpExecutionContext,
    config: S3ObjectConfig,
    s3: SyncS3Resource,
    catalog: CatalogResource,
) -> Iterator[dg.Output[FetchedDocument]]:
    """Fetch one S3 object named by the run config."""
    if not start_invocation(context, catalog):
        return
    yield dg.Output(_fetch(context, config, s3, catalog))


def _fetch(
    context: dg.OpExecutionContext,
    config: S3ObjectConfig,
    s3: SyncS3Resource,
    catalog: CatalogResource,
) -> FetchedDocument:
    try:
        reader = S3SourceReader.open(catalog.get_catalog(), s3, config.source_id)
    except S3SourceError as exc:
        raise failure(config.object_key, exc.reason) from exc
    return reader.fetch(
        config.object_key,
        custom_id=config.custom_id,
        metadata=config.metadata,
        target_collection=config.target_collection,
        max_object_bytes=config.max_object_bytes,
        log=context.log.info,
    )
