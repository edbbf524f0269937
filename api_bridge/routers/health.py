"""``GET /health``: 200 when the catalog and the orchestrator answer, 503 otherwise (no token)."""

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api_bridge.deps import CatalogDep, OrchestratorProbe, ProbeDep

router = APIRouter(tags=["System"])


@router.get("/health", operation_id="health_check")
def health(catalog: CatalogDep, orchestrator: ProbeDep) -> JSONResponse:
    """Report whether the catalog and the orchestrator (Dagster's sensor daemon) answer."""
    checks = {"catalog": catalog.ping(), "orchestrator": _safe(orchestrator)}
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        **{name: "ok" if ok else "unavailable" for name, ok in checks.items()},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


def _safe(probe: OrchestratorProbe) -> bool:
    try:
        return bool(probe())
    except Exception:
        return False


def dagster_sensor_daemon_probe(max_age_s: float) -> OrchestratorProbe:
    """The default orchestrator probe: a recent SENSOR daemon heartbeat at ``DAGSTER_HOME``.

    Args:
        max_age_s: How old the newest heartbeat may be.

    Returns:
        A probe that opens the Dagster instance on each call and never raises.
    """

    def probe() -> bool:
        try:
            from dagster import DagsterInstance

            with DagsterInstance.get() as instance:
                beat = instance.get_daemon_heartbeats().get("SENSOR")
        except Exception:
            return False
        return beat is not None and time.time() - beat.timestamp <= max_age_s

    return probe
