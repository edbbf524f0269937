"""Invocations (jobs): status, metadata, the read model and the create payload."""

from datetime import datetime
from typing import Literal, Self

from pydantic import AwareDatetime, Field, RootModel, model_validator

from sync_pipelines.schemas.common import (
    ChunkMetadata,
    CollectionName,
    CustomId,
    InvocationStatusFilter,
    JobId,
    SourceId,
    SpecModel,
    omitted_if_none,
)


class GitShaRef(SpecModel):
    """A commit, by sha."""

    sha: str = Field(min_length=1)


class GitBranchRef(SpecModel):
    """The tip of a branch."""

    branch: str = Field(min_length=1)


GitRefIdentifier = GitShaRef | GitBranchRef
"""``{"sha": ...}`` or ``{"branch": ...}`` (never both)."""


class CompleteInfo(SpecModel):
    """Payload of the ``complete`` status."""

    finished_at: AwareDatetime
    duration_ms: int = Field(ge=0)


class CompleteStatus(SpecModel):
    """``{"complete": {...}}``."""

    complete: CompleteInfo


class FailedInfo(SpecModel):
    """Payload of the ``failed`` status."""

    error: str


class FailedStatus(SpecModel):
    """``{"failed": {...}}``."""

    failed: FailedInfo


SimpleStatus = Literal["pending", "processing", "cancelled"]


class JobStatus(RootModel[SimpleStatus | CompleteStatus | FailedStatus]):
    """Externally tagged status: ``"pending"``, ``{"complete": {...}}``, ``{"failed": {...}}``..."""

    @classmethod
    def pending(cls) -> "JobStatus":
        """The status of a queued invocation."""
        return cls("pending")

    @classmethod
    def processing(cls) -> "JobStatus":
        """The status of a running invocation."""
        return cls("processing")

    @classmethod
    def cancelled(cls) -> "JobStatus":
        """The status of an invocation cancelled before it ran."""
        return cls("cancelled")

    @classmethod
    def complete(cls, finished_at: datetime, duration_ms: int) -> "JobStatus":
        """The status of a finished invocation.

        Args:
            finished_at: When it finished (timezone-aware).
            duration_ms: Milliseconds from creation to finish.

        Returns:
            The ``complete`` status.
        """
        info = CompleteInfo(finished_at=finished_at, duration_ms=duration_ms)
        return cls(CompleteStatus(complete=info))

    @classmethod
    def failed(cls, error: str) -> "JobStatus":
        """The status of an invocation that failed with ``error``."""
        return cls(FailedStatus(failed=FailedInfo(error=error)))

    @property
    def word(self) -> InvocationStatusFilter:
        """The plain status word (as used by the ``status`` filter)."""
        if isinstance(self.root, CompleteStatus):
            return InvocationStatusFilter.COMPLETE
        if isinstance(self.root, FailedStatus):
            return InvocationStatusFilter.FAILED
        return InvocationStatusFilter(self.root)

    @property
    def finished_at(self) -> datetime | None:
        """When a complete invocation finished, else ``None``."""
        return self.root.complete.finished_at if isinstance(self.root, CompleteStatus) else None

    @property
    def duration_ms(self) -> int | None:
        """Duration of a complete invocation, else ``None``."""
        return self.root.complete.duration_ms if isinstance(self.root, CompleteStatus) else None

    @property
    def error(self) -> str | None:
        """Error of a failed invocation, else ``None``."""
        return self.root.failed.error if isinstance(self.root, FailedStatus) else None


class GithubJobDetails(SpecModel):
    """The ``github`` kind of an invocation: which ref is synced."""

    git_ref_identifier: GitRefIdentifier


class S3JobDetails(SpecModel):
    """The ``s3`` kind of an invocation: which object, under which id and metadata."""

    bucket_name: str
    object_key: str | None = None
    custom_id: str | None = None
    additional_metadata: ChunkMetadata = None


class WebScrapeJobDetails(SpecModel):
    """The ``web_scrape`` kind of an invocation."""

    starting_url: str | None = omitted_if_none()


class FileUploadJobDetails(SpecModel):
    """The ``file_upload`` kind of an invocation: the uploaded file's name."""

    filename: str | None = omitted_if_none()


JobKind = Literal["github", "s3", "web_scrape", "file_upload"]
JOB_KINDS: tuple[JobKind, ...] = ("github", "s3", "web_scrape", "file_upload")


class IndexJobMetadataKind(SpecModel):
    """Exactly one of ``github``, ``s3``, ``web_scrape``, ``file_upload`` (flattened)."""

    github: GithubJobDetails | None = omitted_if_none()
    s3: S3JobDetails | None = omitted_if_none()
    web_scrape: WebScrapeJobDetails | None = omitted_if_none()
    file_upload: FileUploadJobDetails | None = omitted_if_none()

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Self:
        present = [k for k in JOB_KINDS if getattr(self, k) is not None]
        if len(present) != 1:
            raise ValueError(f"exactly one of {', '.join(JOB_KINDS)} is required")
        return self

    @property
    def kind(self) -> JobKind:
        """The kind key that is set."""
        return next(k for k in JOB_KINDS if getattr(self, k) is not None)


class IndexJobMetadata(IndexJobMetadataKind):
    """What an invocation indexes and where: kind plus target database and collection."""

    database_name: str
    collection_name: str


class InvocationProgress(SpecModel):
    """Extension: how far a running (or finished) invocation got.

    Attributes:
        unit: What ``done`` and ``total`` count: ``pages``, ``files`` or ``objects``.
        done: Units settled so far (written, unchanged, skipped or failed).
        total: Units known so far (a crawl discovers pages as it goes), if known.
        chunks_written: Chunks embedded and written so far.
        skipped: Units skipped (robots.txt, filters, size, type).
        failed: Units that failed (their previous chunks are kept).
    """

    unit: Literal["pages", "files", "objects"]
    done: int = Field(ge=0)
    total: int | None = Field(default=None, ge=0)
    chunks_written: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)


class Job(SpecModel):
    """An invocation as returned by get/list (bodies use ``id``).

    Attributes:
        progress: Extension (get-invocation only, once a run reported it): see
            :class:`InvocationProgress`.
    """

    id: JobId
    status: JobStatus
    metadata: IndexJobMetadata
    source_id: SourceId | None = None
    created_at: AwareDatetime
    progress: InvocationProgress | None = omitted_if_none()


class CreateJobPayload(SpecModel):
    """Body of create-invocation; which fields are allowed depends on the source type."""

    custom_id: CustomId = None
    metadata: ChunkMetadata = None
    object_key: str | None = Field(default=None, min_length=1)
    ref_identifier: GitRefIdentifier | None = None
    target_collection_name: CollectionName | None = None


class LatestByKeysRequest(SpecModel):
    """Body of latest-by-keys: the S3 object keys to look up."""

    object_keys: list[str]
