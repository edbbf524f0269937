"""FastAPI dependencies for the shared objects ``create_app`` puts on ``app.state``."""

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from api_bridge.launcher import RunLauncher
from sync_pipelines.catalog import Catalog
from sync_pipelines.schemas import Source
from sync_pipelines.settings import Settings
from sync_pipelines.uploads import UploadStore

OrchestratorProbe = Callable[[], bool]
"""Answers whether the orchestrator is up (``/health``); must not raise."""


WriteGate = contextlib.AbstractContextManager[object]
"""A context manager held around catalog writes."""


def make_write_gate(catalog: Catalog) -> WriteGate:
    """One process-wide lock for SQLite catalogs, nothing for PostgreSQL.

    SQLite admits one writer at a time and makes the others poll with growing sleeps (up to
    100 ms each), which ruins tail latency under concurrent requests; queueing this process's
    writers on a lock first hands the database over immediately instead.
    """
    if catalog.engine.dialect.name == "sqlite":
        return threading.Lock()
    return contextlib.nullcontext()


class SourceCache:
    """Recently read sources, for the create-invocation hot path.

    Sources are never updated, only deleted, and ``create_invocation`` itself refuses a
    deleted source, so a briefly stale entry cannot let a wrong invocation through.
    """

    def __init__(self, catalog: Catalog, ttl_s: float = 30.0, max_entries: int = 1024) -> None:
        """Cache up to ``max_entries`` sources of ``catalog`` for ``ttl_s`` seconds each."""
        self._catalog = catalog
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[uuid.UUID, tuple[float, Source]] = {}
        self._lock = threading.Lock()

    def get(self, source_id: uuid.UUID, database_name: str) -> Source | None:
        """The source if it exists in ``database_name`` (cached or read), else ``None``."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(source_id)
        source = entry[1] if entry is not None and entry[0] > now else None
        if source is None:
            source = self._catalog.get_source(source_id)
            if source is not None:
                with self._lock:
                    if len(self._entries) >= self._max:
                        self._entries.clear()
                    self._entries[source_id] = (now + self._ttl, source)
        return source if source is not None and source.database_name == database_name else None

    def forget(self, source_id: uuid.UUID) -> None:
        """Drop a source (after deleting it)."""
        with self._lock:
            self._entries.pop(source_id, None)


async def get_source_cache(request: Request) -> SourceCache:
    """The application's source cache."""
    cache: SourceCache = request.app.state.source_cache
    return cache


async def get_catalog(request: Request) -> Catalog:
    """The application's catalog."""
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_write_gate(request: Request) -> WriteGate:
    """The lock held around catalog writes (see :func:`make_write_gate`)."""
    gate: WriteGate = request.app.state.write_gate
    return gate


async def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_upload_store(request: Request) -> UploadStore:
    """Where add-file stores uploads."""
    store: UploadStore = request.app.state.upload_store
    return store


async def get_launcher(request: Request) -> RunLauncher:
    """The launcher that starts accepted invocations' runs at once, or leaves them to the sensor."""
    launcher: RunLauncher = request.app.state.launcher
    return launcher


async def get_orchestrator_probe(request: Request) -> OrchestratorProbe:
    """The orchestrator health probe (override in tests with ``app.dependency_overrides``)."""
    probe: OrchestratorProbe = request.app.state.orchestrator_probe
    return probe


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
UploadStoreDep = Annotated[UploadStore, Depends(get_upload_store)]
LauncherDep = Annotated[RunLauncher, Depends(get_launcher)]
ProbeDep = Annotated[OrchestratorProbe, Depends(get_orchestrator_probe)]
WriteGateDep = Annotated[WriteGate, Depends(get_write_gate)]
SourceCacheDep = Annotated[SourceCache, Depends(get_source_cache)]
