"""The file-upload fetch op: a file stored by add-file, synced like an S3 object."""

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from sync_pipelines.ops.documents import FetchedDocument, SyncTarget, failure
from sync_pipelines.ops.tracking import start_invocation
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.uploads import UploadStoreResource
from sync_pipelines.schemas import to_chunking_options


class FileUploadConfig(dg.Config):
    """Which stored upload to sync (the run config of ``sync_file_upload_job``)."""

    source_id: str = Field(description="Id of the database's file_upload source.")
    upload_key: str = Field(description="Key of the stored upload.")
    filename: str = Field(description="The file's name: its document key and id prefix.")
    target_collection: str = Field(description="Collection to write.")
    custom_id: str | None = Field(
        default=None, description="Chunk ids become '<custom_id>-<i>' instead of sha256(name)."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Metadata merged into every chunk."
    )


@dg.op(
    description="Read a file stored by add-file. A cancelled invocation stops here.",
    out=dg.Out(FetchedDocument, is_required=False),
)
def fetch_upload_op(
    context: dg.OpExecutionContext,
    config: FileUploadConfig,
    uploads: UploadStoreResource,
    catalog: CatalogResource,
) -> Iterator[dg.Output[FetchedDocument]]:
    """Load one uploaded file for the chunk and upsert steps."""
    if not start_invocation(context, catalog):
        return
    source = catalog.get_catalog().get_source(uuid.UUID(config.source_id))
    uri = f"upload://{config.filename}"
    if source is None:
        raise failure(uri, f"no file_upload source {config.source_id}")
    try:
        data = uploads.get_store().read(config.upload_key)
    except FileNotFoundError as exc:
        raise failure(uri, "the stored upload is missing") from exc
    target = SyncTarget(
        source_id=str(source.id),
        database_name=source.database_name,
        collection_name=config.target_collection,
        chunking=to_chunking_options(source.chunking, source.embedding_model.model),
        embedding_model=source.embedding_model.model,
    )
    yield dg.Output(
        FetchedDocument(
            target=target,
            uri=uri,
            document_key=config.filename,
            version_key=hashlib.sha256(data).hexdigest(),
            data=data,
            custom_id=config.custom_id,
            extra_metadata=dict(config.metadata),
        )
    )
