"""Catalog methods for the encrypted secret columns: sealing, start-up migration, key rotation.

The secret columns are ``aws_credentials.secret_access_key`` and ``git_tokens.token`` (API
tokens are stored as sha256 hashes, not here). See :mod:`sync_pipelines.catalog.secret_box`
for the key and the stored format.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from sync_pipelines.catalog.base import CatalogBase
from sync_pipelines.catalog.secret_box import (
    PREFIX,
    SecretBox,
    SecretBoxError,
    SecretKeyError,
    commit_key_file,
    is_sealed,
    load_secret_box,
    stage_key_file,
)
from sync_pipelines.catalog.tables import AwsCredentialRow, GitTokenRow
from sync_pipelines.settings import get_settings

#: (primary key, secret column) of every table holding a secret.
SECRET_COLUMNS: tuple[tuple[InstrumentedAttribute[Any], InstrumentedAttribute[str]], ...] = (
    (AwsCredentialRow.id, AwsCredentialRow.secret_access_key),
    (GitTokenRow.source_id, GitTokenRow.token),
)


@dataclass(frozen=True)
class KeyRotation:
    """What :meth:`SecretsMixin.rotate_secret_key` did.

    Attributes:
        rows: Secret rows re-encrypted.
        key_file: The key file now holding the new key; ``None`` when the key is the
            ``CHROMA_SYNC_SECRET_KEY`` setting, which the operator must now change.
    """

    rows: int
    key_file: Path | None


class SecretsMixin(CatalogBase):
    """Encryption of the stored secrets."""

    def encrypt_plain_secrets(self) -> int:
        """Encrypt in place every secret still stored as plain text, in one transaction.

        Runs when the catalog is opened; idempotent, and two processes doing it at once
        encrypt each row once (the update only applies to the plain value it read).

        Returns:
            How many rows were encrypted.

        Raises:
            SecretKeyError: The key is malformed or its file cannot be created.
        """
        with self._engine.begin() as connection:
            plain = [
                (key, column, row_key, stored)
                for key, column in SECRET_COLUMNS
                for row_key, stored in connection.execute(
                    select(key, column).where(~_sealed(column))
                )
            ]
            if not plain:
                return 0
            box = self._secret_box(connection)
            encrypted = 0
            for key, column, row_key, stored in plain:
                statement = (
                    update(column.class_)
                    .where(key == row_key, column == stored)
                    .values({column: box.seal(stored)})
                )
                encrypted += connection.execute(statement).rowcount
            return encrypted

    def rotate_secret_key(self, new_key: str) -> KeyRotation:
        """Re-encrypt every stored secret with ``new_key``, after which the old key opens none.

        With a key file, the new key is first written to ``<file>.new`` (0600), the rows are
        re-encrypted in one transaction, then ``<file>.new`` atomically replaces the key file
        (no copy of the old key is kept). With the ``CHROMA_SYNC_SECRET_KEY`` setting only the
        rows change: the caller must set the new key. Run it while the API and Dagster are
        stopped: a secret another process stores with the old key meanwhile cannot be read.

        Args:
            new_key: One Fernet key (e.g. from :func:`secret_box.generate_key`).

        Returns:
            How many rows were re-encrypted and which key file now holds the key.

        Raises:
            SecretKeyError: ``new_key`` is not one Fernet key, or the key file cannot be written.
            SecretDecryptError: A row does not decrypt with the current key (nothing changes).
        """
        fresh = SecretBox(new_key, "the new key")
        if fresh.key_count != 1:
            raise SecretKeyError("the new key must be a single Fernet key")
        with self._engine.connect() as connection:
            current = self._secret_box(connection)
        staged = stage_key_file(current.key_file, new_key) if current.key_file else None
        try:
            rows = self._reseal_all(current, fresh)
        except BaseException:
            if staged is not None:
                staged.unlink(missing_ok=True)
            raise
        if staged is not None and current.key_file is not None:
            commit_key_file(staged, current.key_file)
        return KeyRotation(rows, current.key_file)

    def _reseal_all(self, current: SecretBox, fresh: SecretBox) -> int:
        """Decrypt every secret row with ``current`` and store it sealed by ``fresh``."""
        with self._engine.begin() as connection:
            _lock_secret_tables(connection)
            rows = 0
            for key, column in SECRET_COLUMNS:
                for row_key, stored in connection.execute(select(key, column)).all():
                    what = _describe(column, row_key)
                    statement = (
                        update(column.class_)
                        .where(key == row_key, column == stored)
                        .values({column: fresh.seal(current.open(stored, what))})
                    )
                    if connection.execute(statement).rowcount != 1:
                        raise SecretBoxError(f"{what} changed during the rotation; retry")
                    rows += 1
            return rows

    def _seal(self, session: Session, plain: str) -> str:
        """Encrypt a secret about to be stored (creating the key file on first use)."""
        return self._secret_box(session).seal(plain)

    def _reveal(self, stored: str, column: InstrumentedAttribute[str], row_key: object) -> str:
        """Decrypt a stored secret (legacy plain text is returned as it is)."""
        if not is_sealed(stored):
            return stored
        return self._secret_box().open(stored, _describe(column, row_key))

    @staticmethod
    def _secret_box(writer: Connection | Session | None = None) -> SecretBox:
        """The current key(s).

        Args:
            writer: The transaction about to store secrets. Only then is a missing key file
                created, and only while the catalog holds no encrypted secret: once secrets
                are encrypted, a lost key is an error, never a fresh key.
        """
        create = writer is not None and not any(
            writer.execute(select(key).where(_sealed(column)).limit(1)).first()
            for key, column in SECRET_COLUMNS
        )
        return load_secret_box(get_settings(), create=create)


def _sealed(column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    return column.startswith(PREFIX, autoescape=True)


def _describe(column: InstrumentedAttribute[str], row_key: object) -> str:
    return f"{column.class_.__tablename__}.{column.key} of row {row_key}"


def _lock_secret_tables(connection: Connection) -> None:
    """Hold off other writers of the secret tables until the transaction ends."""
    tables = ", ".join(key.class_.__tablename__ for key, _ in SECRET_COLUMNS)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
    elif connection.dialect.name == "sqlite":
        # An UPDATE takes SQLite's write lock even when it matches no row.
        connection.exec_driver_sql("UPDATE git_tokens SET token = token WHERE 0 = 1")
