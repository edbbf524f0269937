"""The S3 fetch op: one object, with the size cap checked before download."""

import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
from botocore.exceptions import ClientError
from pydantic import Field

from sync_pipelines.catalog.models import AwsSecret
from sync_pipelines.ops.documents import NETWORK_RETRY, FetchedDocument, SyncTarget, failure
from sync_pipelines.ops.tracking import start_invocation
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.schemas import Source, to_chunking_options


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


def _client_for(s3: SyncS3Resource, source: Source, secret: AwsSecret | None) -> Any:
    config = source.s3
    assert config is not None
    return s3.client_for(
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        aws_access_key_id=secret.access_key_id if secret else None,
        aws_secret_access_key=secret.secret_access_key if secret else None,
    )


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


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
    store = catalog.get_catalog()
    uri_key = config.object_key
    try:
        source = store.get_source(uuid.UUID(config.source_id))
    except ValueError as exc:
        raise failure(uri_key, f"source_id {config.source_id!r} is not a UUID") from exc
    if source is None or source.s3 is None:
        raise failure(uri_key, f"no S3 source {config.source_id}")
    s3_config = source.s3
    uri = f"s3://{s3_config.bucket_name}/{config.object_key}"
    if s3_config.path_prefix and not config.object_key.startswith(s3_config.path_prefix):
        raise failure(
            uri, f"object key is outside the source's path prefix {s3_config.path_prefix!r}"
        )
    secret = (
        store.get_aws_secret(s3_config.aws_credential_id)
        if s3_config.aws_credential_id is not None
        else None
    )
    client = _client_for(s3, source, secret)
    target = SyncTarget(
        source_id=str(source.id),
        database_name=source.database_name,
        collection_name=config.target_collection or s3_config.collection_name,
        chunking=to_chunking_options(source.chunking),
        embedding_model=source.embedding_model.model,
    )
    common: dict[str, Any] = {
        "target": target,
        "uri": uri,
        "document_key": config.object_key,
        "custom_id": config.custom_id,
        "extra_metadata": dict(config.metadata),
    }
    try:
        head = client.head_object(Bucket=s3_config.bucket_name, Key=config.object_key)
    except ClientError as exc:
        if _is_missing(exc):
            context.log.info(f"{uri} no longer exists: its chunks will be removed")
            return FetchedDocument(version_key=None, data=None, **common)
        raise
    size = int(head["ContentLength"])
    if size > config.max_object_bytes:
        raise failure(
            uri, f"object is {size} bytes, over the {config.max_object_bytes}-byte size cap"
        )
    body = client.get_object(
        Bucket=s3_config.bucket_name, Key=config.object_key, IfMatch=head["ETag"]
    )
    data: bytes = body["Body"].read()
    etag = str(body["ETag"]).strip('"')
    context.log.info(f"{uri}: {len(data)} bytes, ETag {etag}")
    return FetchedDocument(
        version_key=etag, data=data, content_type=body.get("ContentType"), **common
    )
