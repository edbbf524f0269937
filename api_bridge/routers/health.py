"""``GET /health``: 200 when the catalog and the orchestrator answer, 503 otherwise (no token)."""

import threading
import time

import requests
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


_DAEMON_QUERY = """
query { instance { daemonHealth { daemonStatus(daemonType: "SENSOR") { lastHeartbeatTime } } } }
"""


def dagster_webserver_probe(
    dagster_url: str, max_age_s: float, timeout_s: float = 3.0
) -> OrchestratorProbe:
    """An orchestrator probe that asks the Dagster webserver for the SENSOR daemon's heartbeat.

    The API then never imports Dagster itself (seconds of start-up and ~70 MB per process).

    Args:
        dagster_url: The webserver's base URL (``dagster_url`` setting).
        max_age_s: How old the newest heartbeat may be.
        timeout_s: Seconds the GraphQL call may take.

    Returns:
        A probe that is ``False`` when the webserver does not answer or the heartbeat is
        missing or stale; it never raises.
    """
    endpoint = dagster_url.rstrip("/") + "/graphql"
    session = requests.Session()

    def probe() -> bool:
        try:
            response = session.post(endpoint, json={"query": _DAEMON_QUERY}, timeout=timeout_s)
            response.raise_for_status()
            status = response.json()["data"]["instance"]["daemonHealth"]["daemonStatus"]
            beat = status["lastHeartbeatTime"]
        except (requests.RequestException, KeyError, TypeError, ValueError):
            return False
        return isinstance(beat, int | float) and time.time() - beat <= max_age_s

    return probe


def cached_probe(probe: OrchestratorProbe, ttl_s: float) -> OrchestratorProbe:
    """Wrap ``probe`` so a healthy answer is reused for ``ttl_s`` seconds.

    Load balancers poll often; an unhealthy answer is not cached, so recovery shows at once.
    """
    lock = threading.Lock()
    healthy_until = [0.0]

    def cached() -> bool:
        with lock:
            if time.monotonic() < healthy_until[0]:
                return True
            answer = _safe(probe)
            if answer:
                healthy_until[0] = time.monotonic() + ttl_s
            return answer

    return cached


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
