"""``create_app``: the FastAPI application serving the hosted Sync API's operations.

Run it with ``chroma-sync api`` (uvicorn) or ``uvicorn --factory api_bridge.app:create_app``.
The contract is ``sync_pipelines/spec/sync.openapi.patched.json`` (also served at
``/sync.openapi.json``); FastAPI's own description stays at ``/openapi.json`` and ``/docs``.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api_bridge.auth import TokenAuthenticator
from api_bridge.deps import OrchestratorProbe, SourceCache, make_write_gate
from api_bridge.errors import install_error_handlers
from api_bridge.launcher import GraphQLRunLauncher, RunLauncher, SensorOnlyLauncher
from api_bridge.middleware import ApiGuard
from api_bridge.routers import files, health, invocations, sources
from api_bridge.routers.files import UploadSlots
from api_bridge.spec import SPEC
from sync_pipelines.catalog import Catalog
from sync_pipelines.settings import Settings, get_settings
from sync_pipelines.uploads import UploadStore

UPLOAD_PATH = "/api/v1/add-file"
PROBE_CACHE_S = 2.0


def _default_probe(settings: Settings) -> OrchestratorProbe:
    max_age = settings.orchestrator_heartbeat_max_age_s
    probe = (
        health.dagster_webserver_probe(settings.dagster_url, max_age)
        if settings.dagster_url
        else health.dagster_sensor_daemon_probe(max_age)
    )
    return health.cached_probe(probe, PROBE_CACHE_S)


def create_app(
    settings: Settings | None = None,
    *,
    catalog: Catalog | None = None,
    orchestrator_probe: OrchestratorProbe | None = None,
    token_cache_ttl_s: float | None = None,
    launcher: RunLauncher | None = None,
) -> FastAPI:
    """Build the API application.

    Args:
        settings: Server settings (default: ``get_settings()``).
        catalog: The catalog to serve (default: opened from the settings' catalog URL and
            closed on shutdown).
        orchestrator_probe: ``/health``'s orchestrator check (default: a recent Dagster
            SENSOR daemon heartbeat, asked of the webserver when ``dagster_url`` is set, else
            read from the instance at ``DAGSTER_HOME``; healthy answers are reused for 2 s).
        launcher: Starts an accepted invocation's run at once (default: through the Dagster
            webserver's GraphQL API when ``dagster_url`` is set, else left to the sensor).
        token_cache_ttl_s: Seconds an authenticated token is cached (default: the
            ``api_token_cache_s`` setting; 0 looks it up on every request).

    Returns:
        The application.
    """
    settings = settings or get_settings()
    owns_catalog = catalog is None
    catalog = catalog or Catalog(settings.resolved_catalog_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_catalog:
            catalog.close()

    app = FastAPI(
        title="chroma-sync",
        description="Self-hosted, wire-compatible implementation of Chroma's Sync API.",
        version=SPEC["info"]["version"],
        lifespan=lifespan,
        strict_content_type=False,
    )
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.write_gate = make_write_gate(catalog)
    app.state.source_cache = SourceCache(catalog)
    app.state.upload_store = UploadStore(settings.resolved_uploads_dir)
    app.state.upload_slots = UploadSlots(settings.max_concurrent_uploads)
    app.state.launcher = launcher or (
        GraphQLRunLauncher(
            settings.dagster_url,
            catalog,
            max_object_bytes=settings.max_object_bytes,
            max_batch_invocations=settings.max_batch_invocations,
        )
        if settings.dagster_url
        else SensorOnlyLauncher()
    )
    app.state.orchestrator_probe = orchestrator_probe or _default_probe(settings)
    install_error_handlers(app)
    app.add_middleware(
        ApiGuard,
        authenticate=TokenAuthenticator(
            catalog,
            settings.api_token_cache_s if token_cache_ttl_s is None else token_cache_ttl_s,
        ),
        max_body_bytes=settings.api_max_body_bytes,
        streamed_paths=frozenset({UPLOAD_PATH}),
    )
    for module in (health, sources, invocations, files):
        app.include_router(module.router)

    @app.get("/sync.openapi.json", include_in_schema=False)
    async def contract() -> JSONResponse:
        return JSONResponse(SPEC)

    return app
