"""Chroma as a Dagster resource: embedded PersistentClient, a Chroma server, or Chroma Cloud.

chromadb is imported on first use: every Dagster process imports this module.
"""

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from sync_pipelines.chroma_store import open_store

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.config import Settings as ChromaSettings

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], "ClientAPI"] = {}


class ChromaResource(dg.ConfigurableResource):
    """Where collections live.

    ``mode`` is ``persistent`` (embedded, data under ``path``), ``http`` (a ``chroma run``
    server at ``host``:``port``) or ``cloud`` (Chroma Cloud with ``api_key``). A source's
    ``database_name`` is the Chroma database its collections are created in; embedded and
    server databases are created on first use. A persistent store is opened by one process
    only (:mod:`sync_pipelines.chroma_store`): when the Chroma server of ``chroma-sync serve``
    owns it, this resource talks to that server; when another process holds it, opening fails.
    """

    mode: str = Field(default="persistent", description="persistent | http | cloud")
    path: str = Field(default="", description="PersistentClient folder (persistent mode).")
    host: str = Field(default="127.0.0.1", description="Chroma server host (http mode).")
    port: int = Field(default=8000, description="Chroma server port (http mode).")
    ssl: bool = Field(default=False, description="Use https (http mode).")
    tenant: str = Field(default="default_tenant", description="Chroma tenant.")
    api_key: str | None = Field(default=None, description="Chroma Cloud API key (cloud mode).")

    def _settings(self) -> "ChromaSettings":
        from chromadb.config import Settings as ChromaSettings

        return ChromaSettings(anonymized_telemetry=False, allow_reset=False)

    def _make_client(self, database: str) -> "ClientAPI":
        import chromadb

        host, port, ssl = self.host, self.port, self.ssl
        if self.mode == "persistent":
            if not self.path:
                raise ValueError("ChromaResource.path is required in persistent mode")
            owner = open_store(Path(self.path))
            if owner is None:
                return chromadb.PersistentClient(
                    path=self.path, tenant=self.tenant, database=database, settings=self._settings()
                )
            host, port, ssl = owner.host, owner.port, False
        if self.mode in ("http", "persistent"):
            return chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                tenant=self.tenant,
                database=database,
                settings=self._settings(),
            )
        if self.mode == "cloud":
            return chromadb.CloudClient(
                tenant=self.tenant,
                database=database,
                api_key=self.api_key,
                settings=self._settings(),
            )
        raise ValueError(f"unknown Chroma mode {self.mode!r}: use persistent, http or cloud")

    def _ensure_database(self, database: str) -> None:
        if self.mode == "cloud":
            return
        from chromadb.api.client import AdminClient
        from chromadb.errors import NotFoundError

        bootstrap = self._make_client("default_database")
        admin = AdminClient.from_system(bootstrap._system)  # type: ignore[attr-defined]
        try:
            admin.get_database(database, tenant=self.tenant)
        except NotFoundError:
            admin.create_database(database, tenant=self.tenant)

    def get_client(self, database: str) -> "ClientAPI":
        """Return a (cached) client bound to ``database``, creating the database if needed.

        Args:
            database: Chroma database name (the source's ``database_name``).

        Returns:
            A chromadb client.
        """
        key = (self.mode, self.path, self.host, self.port, self.ssl, self.tenant, database)
        with _lock:
            client = _clients.get(key)
            if client is None:
                self._ensure_database(database)
                client = self._make_client(database)
                _clients[key] = client
            return client

    def get_collection(
        self, database: str, name: str, *, embedding_function: Any | None = None
    ) -> "Collection":
        """Return the collection ``name`` in ``database``, creating it if needed.

        Args:
            database: Chroma database name.
            name: Collection name.
            embedding_function: The stock chromadb embedding function recorded in a new
                collection's configuration, so stock clients can ``query_texts`` it.

        Returns:
            The collection.
        """
        return self.get_client(database).get_or_create_collection(
            name, embedding_function=embedding_function
        )


def reset_client_cache() -> None:
    """Forget cached clients (tests that delete Chroma folders call this)."""
    with _lock:
        _clients.clear()
