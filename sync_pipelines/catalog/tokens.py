"""Catalog methods for API tokens: random secrets stored only as their sha256 hash.

A token is ``chsync_`` followed by ``secrets.token_urlsafe(32)``. It is scoped to one Chroma
database; an ``admin`` token may also create and delete that database's sources. The secret
is returned once, by :meth:`TokensMixin.create_token`, and never stored or logged.
"""

import hashlib
import hmac
import secrets

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import select, update

from sync_pipelines.catalog.base import CatalogBase, utcnow
from sync_pipelines.catalog.tables import TokenRow
from sync_pipelines.schemas.common import check_database_name

TOKEN_PREFIX = "chsync_"
MAX_TOKEN_CHARS = 256


class ApiToken(BaseModel):
    """A stored API token as listed: never its secret nor its hash."""

    model_config = ConfigDict(extra="forbid")

    id: int
    database_name: str
    admin: bool
    label: str | None
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None

    @property
    def active(self) -> bool:
        """Whether the token still authenticates."""
        return self.revoked_at is None


def hash_token(secret: str) -> str:
    """Return the lowercase hex sha256 of a token secret (what the catalog stores)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _token(row: TokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        database_name=row.database_name,
        admin=row.admin,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class TokensMixin(CatalogBase):
    """API tokens: create, authenticate, list, revoke."""

    def create_token(
        self, database_name: str, *, admin: bool = False, label: str | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token for ``database_name``.

        Args:
            database_name: The only database the token can see.
            admin: Whether it may create and delete sources.
            label: A free-text note shown by ``token list``.

        Returns:
            The stored token and its secret (shown once; only its hash is kept).

        Raises:
            ValueError: ``database_name`` is one Chroma refuses (under 3 characters) or the
                catalog cannot store (over 255 characters, NUL).
        """
        try:
            check_database_name(database_name)
        except ValueError as exc:
            raise ValueError(f"database_name: {exc}") from exc
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = TokenRow(
            token_hash=hash_token(secret),
            database_name=database_name,
            admin=admin,
            label=label,
            created_at=utcnow(),
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _token(row), secret

    def authenticate_token(self, secret: str) -> ApiToken | None:
        """Return the active token whose secret is ``secret``, else ``None``.

        The lookup is by hash; the stored hash is then compared in constant time.
        """
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_CHARS:
            return None
        digest = hash_token(secret)
        with self._sessions() as session:
            row = session.scalars(select(TokenRow).where(TokenRow.token_hash == digest)).first()
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.token_hash, digest):
                return None
            return _token(row)

    def list_tokens(self, database_name: str | None = None) -> list[ApiToken]:
        """List tokens (revoked ones included), oldest first, optionally for one database."""
        query = select(TokenRow).order_by(TokenRow.id)
        if database_name is not None:
            query = query.where(TokenRow.database_name == database_name)
        with self._sessions() as session:
            return [_token(row) for row in session.scalars(query)]

    def revoke_token(self, token_id: int) -> bool:
        """Revoke a token; returns whether an active token was revoked."""
        statement = (
            update(TokenRow)
            .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1
