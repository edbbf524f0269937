"""Token authentication and the authorization rules every route applies.

``x-chroma-token`` is checked by :class:`api_bridge.middleware.ApiGuard` before the body is
read; routes receive the authenticated :class:`ApiToken` through :func:`current_token`.
A token sees exactly one database. Resources of another database answer 404 (their existence
is never revealed); naming another database explicitly (create-source, add-file, list filters)
answers 403; creating or deleting a source needs an admin token (403 otherwise).
"""

import threading
import time
from typing import Annotated

from fastapi import Depends, Request

from api_bridge.errors import ForbiddenError, UnauthenticatedError
from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.tokens import ApiToken, hash_token

TOKEN_HEADER = "x-chroma-token"
TOKEN_SCOPE_KEY = "chroma_sync.token"


class TokenAuthenticator:
    """Resolve token secrets through the catalog, with an optional short positive cache.

    The cache is keyed by the secret's sha256 (the secret itself is not kept) and only holds
    tokens that authenticated, so a revoked token stops working after at most ``cache_ttl_s``.
    """

    def __init__(self, catalog: Catalog, cache_ttl_s: float = 0.0) -> None:
        """Build an authenticator over ``catalog``; ``cache_ttl_s`` 0 disables the cache."""
        self._catalog = catalog
        self._ttl = cache_ttl_s
        self._cache: dict[str, tuple[float, ApiToken]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> ApiToken | None:
        """The cached token for ``secret`` if still fresh (no database access)."""
        if self._ttl <= 0:
            return None
        with self._lock:
            entry = self._cache.get(hash_token(secret))
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def __call__(self, secret: str) -> ApiToken | None:
        """Return the active token for ``secret`` (cache first), else ``None``."""
        token = self.cached(secret)
        if token is not None:
            return token
        token = self._catalog.authenticate_token(secret)
        if self._ttl > 0:
            key = hash_token(secret)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                if token is None:
                    self._cache.pop(key, None)
                else:
                    self._cache[key] = (time.monotonic() + self._ttl, token)
        return token


async def current_token(request: Request) -> ApiToken:
    """FastAPI dependency: the token :class:`ApiGuard` authenticated for this request."""
    token = request.scope.get(TOKEN_SCOPE_KEY)
    if not isinstance(token, ApiToken):
        raise UnauthenticatedError("missing x-chroma-token header")
    return token


Token = Annotated[ApiToken, Depends(current_token)]


def require_admin(token: ApiToken, action: str) -> None:
    """Refuse (403) unless ``token`` is an admin token."""
    if not token.admin:
        raise ForbiddenError(f"{action} needs an admin token")


def require_database(token: ApiToken, database_name: str, field: str = "database_name") -> None:
    """Refuse (403) a request that names a database other than the token's."""
    if database_name != token.database_name:
        raise ForbiddenError(f"{field}: the token is not valid for database {database_name!r}")
