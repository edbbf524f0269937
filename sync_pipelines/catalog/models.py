"""Catalog-only types (not part of the wire API), errors, and row-to-model conversion."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from sync_pipelines.catalog.tables import InvocationRow, JsonDict, SourceRow
from sync_pipelines.schemas import IndexJobMetadata, Job, JobStatus, Source


class CatalogError(Exception):
    """Base of catalog errors."""


class SourceNotFoundError(CatalogError, LookupError):
    """The source does not exist (or is not in the caller's database)."""


class CredentialNotFoundError(CatalogError, LookupError):
    """The AWS credential does not exist (or belongs to another database)."""


class InvocationExistsError(CatalogError):
    """A pending or processing invocation already targets the same collection (and key)."""

    def __init__(self, existing: Job) -> None:
        """Keep the conflicting invocation for the error message."""
        super().__init__(f"invocation {existing.id} is already {existing.status.word}")
        self.existing = existing


class AwsCredential(BaseModel):
    """A stored AWS credential as listed: never the secret."""

    model_config = ConfigDict(extra="forbid")

    id: int
    database_name: str
    access_key_id: str
    created_at: AwareDatetime


@dataclass(frozen=True)
class AwsSecret:
    """AWS keys for the pipeline's S3 client (the secret is kept out of ``repr``)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class InvocationRecord:
    """An invocation plus the internal columns the pipeline needs.

    Attributes:
        job: The wire model.
        source_type: The source's type key at creation time.
        object_key: S3 object key, or the stored upload's key for ``file_upload``.
        custom_id: Custom chunk-id prefix, if any.
        extra_metadata: Extra chunk metadata, if any.
        run_id: Dagster run id once processing.
        started_at: When processing started.
    """

    job: Job
    source_type: str
    object_key: str | None
    custom_id: str | None
    extra_metadata: JsonDict | None
    run_id: str | None
    started_at: datetime | None


def source_from_row(row: SourceRow) -> Source:
    """Build the ``Source`` read model from its row."""
    return Source.model_validate(
        {
            row.source_type: row.config,
            "id": row.id,
            "database_name": row.database_name,
            "embedding_model": row.embedding_model,
            "chunking": row.chunking,
            "embedding": row.embedding,
            "created_at": row.created_at,
        }
    )


def status_from_row(row: InvocationRow) -> JobStatus:
    """Build the externally tagged status from the status columns."""
    if row.status == "complete":
        finished = row.finished_at or row.created_at
        return JobStatus.complete(finished, row.duration_ms or 0)
    if row.status == "failed":
        return JobStatus.failed(row.error or "")
    return JobStatus(row.status)


def job_from_row(row: InvocationRow) -> Job:
    """Build the ``Job`` wire model from its row."""
    metadata = IndexJobMetadata.model_validate(
        {
            **row.kind,
            "database_name": row.database_name,
            "collection_name": row.collection_name,
        }
    )
    return Job(
        id=row.id,
        status=status_from_row(row),
        metadata=metadata,
        source_id=row.source_id,
        created_at=row.created_at,
    )


def record_from_row(row: InvocationRow) -> InvocationRecord:
    """Build the internal record from its row."""
    return InvocationRecord(
        job=job_from_row(row),
        source_type=row.source_type,
        object_key=row.object_key,
        custom_id=row.custom_id,
        extra_metadata=row.extra_metadata,
        run_id=row.run_id,
        started_at=row.started_at,
    )


def new_id() -> uuid.UUID:
    """A fresh random id for sources and invocations."""
    return uuid.uuid4()


def invocation_row(
    source_id: uuid.UUID | None,
    metadata: IndexJobMetadata,
    *,
    status: str,
    created_at: datetime,
    **columns: Any,
) -> InvocationRow:
    """A new invocation row: a fresh id, the metadata's kind, database and collection.

    Args:
        source_id: The source, or ``None`` for an invocation of no stored source.
        metadata: Kind (only its own kind's fields are stored), database and collection.
        status: The status word it starts in.
        created_at: When it was accepted.
        **columns: Further ``InvocationRow`` columns (object key, run id, error, times, ...).
    """
    own_kind: set[str] = {metadata.kind}
    return InvocationRow(
        id=new_id(),
        source_id=source_id,
        database_name=metadata.database_name,
        collection_name=metadata.collection_name,
        source_type=metadata.kind,
        kind=metadata.model_dump(mode="json", include=own_kind),
        status=status,
        created_at=created_at,
        **columns,
    )
