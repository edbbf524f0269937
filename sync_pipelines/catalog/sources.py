"""Catalog methods for sources and AWS credentials (their secrets are stored encrypted)."""

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_pipelines.catalog.base import DEFAULT_LIMIT, page, utcnow
from sync_pipelines.catalog.models import (
    AwsCredential,
    AwsSecret,
    CredentialNotFoundError,
    new_id,
    source_from_row,
)
from sync_pipelines.catalog.stored_secrets import SecretsMixin
from sync_pipelines.catalog.tables import (
    AwsCredentialRow,
    GitTokenRow,
    InvocationRow,
    SourceRow,
)
from sync_pipelines.schemas import (
    CreateSourcePayload,
    DenseEmbeddingConfig,
    FileUploadSourceConfig,
    OrderBy,
    Source,
    SourceChunkingConfig,
    SourceEmbeddingConfig,
    SourceType,
    SourceTypeFilter,
    default_chunking,
    default_dense_model,
)


class SourcesMixin(SecretsMixin):
    """Sources and AWS credentials."""

    def create_source(self, payload: CreateSourcePayload) -> Source:
        """Store a new source; inline AWS keys become a new credential, a git token is kept apart.

        Args:
            payload: The validated create-source body.

        Returns:
            The stored source (S3 shows ``aws_credential_id``, never keys).

        Raises:
            CredentialNotFoundError: ``aws_credential_id`` names no credential of this database.
        """
        with self._sessions.begin() as session:
            credential_id: int | None = None
            s3 = payload.s3
            if s3 is not None and s3.aws_access_key_id and s3.aws_secret_access_key:
                credential = self._add_credential(
                    session, payload.database_name, s3.aws_access_key_id, s3.aws_secret_access_key
                )
                credential_id = credential.id
            elif s3 is not None and s3.aws_credential_id is not None:
                found = session.get(AwsCredentialRow, s3.aws_credential_id)
                if found is None or found.database_name != payload.database_name:
                    raise CredentialNotFoundError(f"no AWS credential {s3.aws_credential_id}")
            row = self._source_row(
                payload.database_name,
                payload.stored_type(credential_id),
                payload.resolved_chunking(),
                payload.resolved_embedding(),
            )
            session.add(row)
            session.flush()
            if payload.github is not None and payload.github.token is not None:
                token = self._seal(session, payload.github.token)
                session.add(GitTokenRow(source_id=row.id, token=token))
            return source_from_row(row)

    def get_git_token(self, source_id: uuid.UUID) -> str | None:
        """Internal, for the pipeline's git client only: the token a git source was created with.

        Raises:
            SecretBoxError: The stored token does not decrypt with the current key.
        """
        with self._sessions() as session:
            row = session.get(GitTokenRow, source_id)
            stored = row.token if row is not None else None
        return None if stored is None else self._reveal(stored, GitTokenRow.token, source_id)

    def ensure_file_upload_source(
        self,
        database_name: str,
        chunking: SourceChunkingConfig | None = None,
        embedding: SourceEmbeddingConfig | None = None,
    ) -> Source:
        """Return the database's ``file_upload`` source, creating it on first use.

        Args:
            database_name: The database.
            chunking: Chunking for a newly created source (default tree-sitter, 1500 bytes).
            embedding: Embedding for a newly created source (default ``all-MiniLM-L6-v2``).

        Returns:
            The one ``file_upload`` source of ``database_name``.
        """
        key = f"file_upload:{database_name}"
        query = select(SourceRow).where(SourceRow.unique_key == key)
        with self._sessions() as session:
            existing = session.scalars(query).first()
            if existing is not None:
                return source_from_row(existing)
        resolved = embedding or SourceEmbeddingConfig()
        if resolved.dense is None:
            dense = DenseEmbeddingConfig.model_validate(default_dense_model().model_dump())
            resolved = SourceEmbeddingConfig(dense=dense, sparse=resolved.sparse)
        row = self._source_row(
            database_name,
            SourceType(file_upload=FileUploadSourceConfig()),
            chunking or default_chunking(),
            resolved,
        )
        row.unique_key = key
        try:
            with self._sessions.begin() as session:
                session.add(row)
                session.flush()
                return source_from_row(row)
        except IntegrityError:
            with self._sessions() as session:
                return source_from_row(session.scalars(query).one())

    def get_source(self, source_id: uuid.UUID, database_name: str | None = None) -> Source | None:
        """Return the source, or ``None`` when absent or outside ``database_name``."""
        with self._sessions() as session:
            row = session.get(SourceRow, source_id)
            if row is None or (database_name is not None and row.database_name != database_name):
                return None
            return source_from_row(row)

    def list_sources(
        self,
        database_name: str | None = None,
        source_type: SourceTypeFilter | str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        order_by: OrderBy | str = OrderBy.DESC,
    ) -> list[Source]:
        """List sources by creation time, optionally scoped to a database and a type.

        Args:
            database_name: Only this database's sources (``None``: all).
            source_type: Only this type.
            limit: Page size.
            offset: Rows to skip.
            order_by: ``ASC`` or ``DESC`` by ``created_at``.

        Returns:
            One page of sources.
        """
        query = select(SourceRow)
        if database_name is not None:
            query = query.where(SourceRow.database_name == database_name)
        if source_type is not None:
            query = query.where(SourceRow.source_type == SourceTypeFilter(source_type).value)
        query = page(query, SourceRow.created_at, SourceRow.id, limit, offset, order_by)
        with self._sessions() as session:
            return [source_from_row(row) for row in session.scalars(query)]

    def delete_source(self, source_id: uuid.UUID, database_name: str | None = None) -> bool:
        """Delete a source; its pending invocations are cancelled, all keep their history.

        Invocations outlive their source: their ``source_id`` becomes ``null`` (the spec's
        ``Job.source_id`` is nullable) so list-invocations by database still shows them.

        Args:
            source_id: The source.
            database_name: When given, only delete a source of this database.

        Returns:
            Whether a source was deleted.
        """
        with self._sessions.begin() as session:
            row = session.get(SourceRow, source_id)
            if row is None or (database_name is not None and row.database_name != database_name):
                return False
            session.execute(
                update(InvocationRow)
                .where(InvocationRow.source_id == source_id, InvocationRow.status == "pending")
                .values(status="cancelled")
            )
            session.execute(
                update(InvocationRow)
                .where(InvocationRow.source_id == source_id)
                .values(source_id=None)
            )
            session.execute(delete(GitTokenRow).where(GitTokenRow.source_id == source_id))
            session.delete(row)
            return True

    def create_credential(
        self, database_name: str, access_key_id: str, secret_access_key: str
    ) -> AwsCredential:
        """Store AWS keys for ``database_name`` and return the credential (without secret)."""
        with self._sessions.begin() as session:
            return self._add_credential(session, database_name, access_key_id, secret_access_key)

    def list_credentials(self, database_name: str | None = None) -> list[AwsCredential]:
        """List stored credentials (never secrets), oldest first."""
        query = select(AwsCredentialRow).order_by(AwsCredentialRow.id)
        if database_name is not None:
            query = query.where(AwsCredentialRow.database_name == database_name)
        with self._sessions() as session:
            return [_credential(row) for row in session.scalars(query)]

    def get_aws_secret(self, credential_id: int) -> AwsSecret | None:
        """Internal, for the pipeline's S3 client only: the keys of a credential.

        Raises:
            SecretBoxError: The stored secret does not decrypt with the current key.
        """
        with self._sessions() as session:
            row = session.get(AwsCredentialRow, credential_id)
        if row is None:
            return None
        secret = self._reveal(row.secret_access_key, AwsCredentialRow.secret_access_key, row.id)
        return AwsSecret(row.access_key_id, secret)

    def _add_credential(
        self, session: Session, database_name: str, access_key_id: str, secret_access_key: str
    ) -> AwsCredential:
        row = AwsCredentialRow(
            database_name=database_name,
            access_key_id=access_key_id,
            secret_access_key=self._seal(session, secret_access_key),
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return _credential(row)

    @staticmethod
    def _source_row(
        database_name: str,
        source_type: SourceType,
        chunking: SourceChunkingConfig,
        embedding: SourceEmbeddingConfig,
    ) -> SourceRow:
        dense = embedding.dense or default_dense_model()
        return SourceRow(
            id=new_id(),
            database_name=database_name,
            source_type=source_type.source_type,
            config=source_type.type_config.model_dump(mode="json"),
            chunking=chunking.model_dump(mode="json"),
            embedding=embedding.model_dump(mode="json"),
            embedding_model=dense.model_dump(mode="json"),
            created_at=utcnow(),
        )


def _credential(row: AwsCredentialRow) -> AwsCredential:
    return AwsCredential(
        id=row.id,
        database_name=row.database_name,
        access_key_id=row.access_key_id,
        created_at=row.created_at,
    )
