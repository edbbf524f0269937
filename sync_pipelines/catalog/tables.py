"""ORM tables of the catalog (created with ``create_all``; migrations are a follow-up)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sync_pipelines.catalog.engine import UtcDateTime

JsonDict = dict[str, Any]


class Base(DeclarativeBase):
    """Declarative base of the catalog tables."""

    type_annotation_map = {
        datetime: UtcDateTime(),
        JsonDict: JSON().with_variant(JSONB(), "postgresql"),
        uuid.UUID: Uuid(),
    }


class AwsCredentialRow(Base):
    """Stored AWS keys; the secret is encrypted and read only through ``Catalog.get_aws_secret``."""

    __tablename__ = "aws_credentials"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    database_name: Mapped[str] = mapped_column(String(255), index=True)
    access_key_id: Mapped[str] = mapped_column(String(255))
    secret_access_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class SourceRow(Base):
    """A source: its type key and secret-free type config, chunking and embedding."""

    __tablename__ = "sources"
    __table_args__ = (Index("ix_sources_db_created", "database_name", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    database_name: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(16))
    config: Mapped[JsonDict]
    chunking: Mapped[JsonDict]
    embedding: Mapped[JsonDict]
    embedding_model: Mapped[JsonDict]
    # Set only for singleton sources (one file_upload source per database); NULLs never clash.
    unique_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime]


class GitTokenRow(Base):
    """A git source's write-only access token, encrypted; read only through ``get_git_token``."""

    __tablename__ = "git_tokens"

    source_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(Text)


class InvocationRow(Base):
    """One invocation (job) of a source and its status columns."""

    __tablename__ = "invocations"
    __table_args__ = (
        Index("ix_invocations_db_created", "database_name", "created_at"),
        Index("ix_invocations_source_key", "source_id", "object_key"),
        Index("ix_invocations_status", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL")
    )
    database_name: Mapped[str] = mapped_column(String(255))
    collection_name: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(16))
    kind: Mapped[JsonDict]
    object_key: Mapped[str | None] = mapped_column(String(1024))
    custom_id: Mapped[str | None] = mapped_column(String(255))
    extra_metadata: Mapped[JsonDict | None]
    ref: Mapped[JsonDict | None]
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    run_id: Mapped[str | None] = mapped_column(String(64))


class TokenRow(Base):
    """An API token: only the sha256 of its secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    database_name: Mapped[str] = mapped_column(String(255))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class S3ObjectRow(Base):
    """What the S3 auto-sync sensor last handled for one object key of a source.

    ``seen_pass`` is the last listing pass that saw the key; keys not seen during a complete
    pass are gone from the bucket. ``sidecar_target`` (metadata mode) is the invocation the
    sidecar asked for, replayed when mirror mode sees the sidecar vanish.
    """

    __tablename__ = "s3_objects"
    __table_args__ = (Index("ix_s3_objects_source_pass", "source_id", "seen_pass"),)

    source_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    object_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    etag: Mapped[str] = mapped_column(String(255))
    seen_pass: Mapped[int] = mapped_column(BigInteger)
    sidecar_target: Mapped[JsonDict | None]
