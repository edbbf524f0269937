"""Sources: per-type configs, the flattened type key, the create payload and the read model.

On the wire the type key sits at the top level beside the common fields, exactly one of
``github``, ``web_scrape``, ``s3`` or ``file_upload``::

    {"database_name": "db", "s3": {"bucket_name": "b", "region": "us-east-1", ...}}
"""

import re
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, Field, field_validator, model_validator

from sync_pipelines.schemas.chunking import (
    LinesChunkingConfig,
    SourceChunkingConfig,
    TreeSitterChunkingConfig,
    default_chunking,
)
from sync_pipelines.schemas.common import (
    INT32_MAX,
    AutoSync,
    CollectionName,
    DatabaseName,
    SpecModel,
    omitted_if_none,
    unique_items,
)
from sync_pipelines.schemas.embedding import (
    DenseEmbeddingConfig,
    DenseEmbeddingModel,
    SourceEmbeddingConfig,
    default_dense_model,
)
from sync_pipelines.schemas.github import CreateGithubSourceConfig, GithubSourceConfig
from sync_pipelines.schemas.schedule import SyncSchedule

SourceKind = Literal["github", "web_scrape", "s3", "file_upload"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("github", "web_scrape", "s3", "file_upload")


def _regexes(values: list[str] | None) -> list[str] | None:
    for pattern in unique_items(values) or []:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return values


Regexes = Annotated[list[str] | None, AfterValidator(_regexes)]
Int32 = Annotated[int | None, Field(ge=0, le=INT32_MAX)]


class WebScrapeSourceConfig(SpecModel):
    """A website crawled from ``starting_url``.

    Attributes:
        schedule: Extension (optional): re-crawl into a collection on a cron schedule
            (:class:`~sync_pipelines.schemas.schedule.SyncSchedule`).
    """

    starting_url: str
    exclude_path_regexes: Regexes = None
    include_path_regexes: Regexes = None
    max_depth: Int32 = None
    page_limit: Int32 = None
    schedule: SyncSchedule | None = omitted_if_none()

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: SyncSchedule | None) -> SyncSchedule | None:
        if value is not None and value.target_collection_name is None:
            raise ValueError("target_collection_name is required for a web schedule")
        if value is not None and value.branch is not None:
            raise ValueError("branch is only for GitHub schedules")
        return value

    @field_validator("starting_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials (user:password@)")
        return value


class S3SourceConfig(SpecModel):
    """An S3 (or S3-compatible) bucket, as stored and shown: never carries secret keys.

    Attributes:
        endpoint_url: Extension (not in the hosted spec, optional): the S3-compatible
            endpoint for this source, overriding the server's ``s3_endpoint_url`` setting.
        mirror_deletes: Extension (optional, default off): with ``auto_sync``, an object gone
            from the bucket gets an invocation that removes its chunks (mirror mode).
        schedule: Extension (optional, ``auto_sync: direct`` only): reconcile the bucket with
            ``collection_name`` on a cron schedule
            (:class:`~sync_pipelines.schemas.schedule.SyncSchedule`).
    """

    bucket_name: str = Field(min_length=1)
    region: str
    collection_name: str = Field(min_length=1)
    path_prefix: str | None = None
    auto_sync: AutoSync | None = None
    aws_credential_id: Int32 = None
    endpoint_url: str | None = omitted_if_none()
    mirror_deletes: bool | None = omitted_if_none()
    schedule: SyncSchedule | None = omitted_if_none()

    @model_validator(mode="after")
    def _check_schedule(self) -> Self:
        if self.schedule is None:
            return self
        if self.auto_sync != AutoSync.DIRECT:
            raise ValueError(
                "schedule: S3 sources reconcile on a schedule only with auto_sync 'direct'"
            )
        if self.schedule.target_collection_name is not None or self.schedule.branch is not None:
            raise ValueError(
                "schedule: S3 sources reconcile into their collection_name; "
                "target_collection_name and branch are not allowed"
            )
        return self


class CreateS3SourceConfig(S3SourceConfig):
    """The ``s3`` part of a create-source body: may carry inline AWS keys (write-only).

    The inline pair is stored as a new credential; the resulting source then shows only its
    ``aws_credential_id``. ``collection_name`` must be a name Chroma accepts.
    """

    collection_name: CollectionName
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None

    @model_validator(mode="after")
    def _check_keys(self) -> Self:
        has_id = self.aws_access_key_id is not None
        if has_id != (self.aws_secret_access_key is not None):
            raise ValueError("aws_access_key_id and aws_secret_access_key must be given together")
        if has_id and self.aws_credential_id is not None:
            raise ValueError(
                "aws_credential_id and inline aws_access_key_id/aws_secret_access_key "
                "are mutually exclusive"
            )
        return self

    def stored(self, aws_credential_id: int | None = None) -> S3SourceConfig:
        """Return the config without inline keys, pointing at ``aws_credential_id`` if given.

        Args:
            aws_credential_id: The credential that now holds the inline keys, if any.

        Returns:
            The storable (secret-free) config.
        """
        data = self.model_dump(exclude={"aws_access_key_id", "aws_secret_access_key"})
        if aws_credential_id is not None:
            data["aws_credential_id"] = aws_credential_id
        return S3SourceConfig.model_validate(data)


class FileUploadSourceConfig(SpecModel):
    """The per-database source that add-file creates; it has no settings."""


TypeConfig = GithubSourceConfig | WebScrapeSourceConfig | S3SourceConfig | FileUploadSourceConfig


class _TypeKeyed(SpecModel):
    """Checks that exactly one source type key is set and exposes it."""

    @model_validator(mode="after")
    def _exactly_one_type(self) -> Self:
        present = [k for k in SOURCE_KINDS if getattr(self, k, None) is not None]
        if len(present) != 1:
            raise ValueError(
                f"exactly one source type key of {', '.join(SOURCE_KINDS)} is required"
                f" (got {', '.join(present) or 'none'})"
            )
        return self

    @property
    def source_type(self) -> SourceKind:
        """The source's type key."""
        return next(k for k in SOURCE_KINDS if getattr(self, k, None) is not None)

    @property
    def type_config(self) -> TypeConfig:
        """The config object under the type key."""
        config: TypeConfig = getattr(self, self.source_type)
        return config


class SourceType(_TypeKeyed):
    """The type key of a stored source (read form: S3 shows no secrets)."""

    github: GithubSourceConfig | None = omitted_if_none()
    web_scrape: WebScrapeSourceConfig | None = omitted_if_none()
    s3: S3SourceConfig | None = omitted_if_none()
    file_upload: FileUploadSourceConfig | None = omitted_if_none()


class Source(SourceType):
    """A source as returned by get/list: type key plus fully resolved settings."""

    id: UUID
    database_name: str
    embedding_model: DenseEmbeddingModel
    chunking: SourceChunkingConfig
    embedding: SourceEmbeddingConfig
    created_at: AwareDatetime


class CreateSourcePayload(_TypeKeyed):
    """Body of create-source.

    ``file_upload`` sources cannot be created here (add-file creates them), so that key is
    rejected. ``embedding_model`` and ``embedding.dense`` name the same thing; when both are
    given they must agree, and when neither is, ``all-MiniLM-L6-v2`` is used.
    """

    database_name: DatabaseName
    github: CreateGithubSourceConfig | None = omitted_if_none()
    web_scrape: WebScrapeSourceConfig | None = omitted_if_none()
    s3: CreateS3SourceConfig | None = omitted_if_none()
    file_upload: FileUploadSourceConfig | None = omitted_if_none()
    chunking: SourceChunkingConfig | None = omitted_if_none()
    embedding: SourceEmbeddingConfig | None = omitted_if_none()
    embedding_model: DenseEmbeddingModel | None = None

    @model_validator(mode="after")
    def _check_payload(self) -> Self:
        if self.file_upload is not None:
            raise ValueError("file_upload sources are created by add-file, not create-source")
        dense = self.embedding.dense if self.embedding else None
        if (
            dense is not None
            and self.embedding_model is not None
            and dense.model_dump() != self.embedding_model.model_dump()
        ):
            raise ValueError("embedding_model and embedding.dense name different models")
        return self

    def resolved_chunking(self) -> TreeSitterChunkingConfig | LinesChunkingConfig:
        """The chunking to store: the given one or the default."""
        return self.chunking or default_chunking()

    def resolved_embedding_model(self) -> DenseEmbeddingModel:
        """The dense model to store: ``embedding_model``, ``embedding.dense`` or the default."""
        if self.embedding_model is not None:
            return self.embedding_model
        if self.embedding is not None and self.embedding.dense is not None:
            return DenseEmbeddingModel.model_validate(self.embedding.dense.model_dump())
        return default_dense_model()

    def resolved_embedding(self) -> SourceEmbeddingConfig:
        """The embedding config to store, with ``dense`` always set."""
        dense = DenseEmbeddingConfig.model_validate(self.resolved_embedding_model().model_dump())
        sparse = self.embedding.sparse if self.embedding else None
        return SourceEmbeddingConfig(dense=dense, sparse=sparse)

    def stored_type(self, aws_credential_id: int | None = None) -> SourceType:
        """The secret-free type key to store.

        Args:
            aws_credential_id: For S3 with inline keys, the credential that now holds them.

        Returns:
            The read-form type key (never the S3 keys or the git token).
        """
        if self.s3 is not None:
            return SourceType(s3=self.s3.stored(aws_credential_id))
        if self.github is not None:
            return SourceType(github=self.github.stored())
        return SourceType.model_validate({self.source_type: self.type_config.model_dump()})
