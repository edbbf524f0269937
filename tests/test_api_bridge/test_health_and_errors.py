"""``/health`` and the error contract shared by every operation.

Contract: ``/health`` is 200 when the catalog and the orchestrator probe answer, 503 when
either does not; the default probe reads the Dagster instance's SENSOR daemon heartbeat.
Bodies over the limit are 413, an unexpected exception is a 500 ``ErrorResponse`` without a
traceback, unknown paths keep the ``ErrorResponse`` shape, values the catalog cannot store
(NUL, non-finite numbers) are 400, and the spec-checking fixture itself rejects bodies and
statuses the spec does not allow.
"""

import time
from pathlib import Path

import pytest
from dagster import DagsterInstance
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_bridge.app import create_app
from api_bridge.deps import get_orchestrator_probe
from api_bridge.routers.health import dagster_sensor_daemon_probe
from sync_pipelines.catalog import Catalog
from sync_pipelines.settings import Settings
from tests.test_api_bridge.conftest import check_response


def test_health_200_when_catalog_and_orchestrator_answer(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "catalog": "ok", "orchestrator": "ok"}


def test_health_503_when_orchestrator_is_down(app: FastAPI, client: TestClient) -> None:
    app.dependency_overrides[get_orchestrator_probe] = lambda: lambda: False
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["orchestrator"] == "unavailable"


def test_health_503_when_catalog_is_down(settings: Settings, tmp_path: Path) -> None:
    broken = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    (tmp_path / "c.db").unlink()
    (tmp_path / "c.db").mkdir()
    broken.close()
    app = create_app(settings, catalog=broken, orchestrator_probe=lambda: True)
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["catalog"] == "unavailable"


def test_default_probe_reads_the_sensor_daemon_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._daemon.types import DaemonHeartbeat

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    probe = dagster_sensor_daemon_probe(max_age_s=60)
    assert probe() is False
    with DagsterInstance.get() as instance:
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - 600, "SENSOR", "d1", errors=[]))
    assert probe() is False
    with DagsterInstance.get() as instance:
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "SENSOR", "d1", errors=[]))
    assert probe() is True
    monkeypatch.setenv("DAGSTER_HOME", "")
    assert probe() is False


def test_body_over_limit_is_413(
    raw_client: TestClient, admin: dict[str, str], settings: Settings
) -> None:
    big = {"database_name": "db1", "s3": {"x": "y" * settings.api_max_body_bytes}}
    response = raw_client.post("/api/v1/sources", json=big, headers=admin)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLargeError"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(settings.api_max_body_bytes // 65536 + 2):
            yield b" " * 65536

    streamed = raw_client.post(
        "/api/v1/sources", content=chunks(), headers={**admin, "content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_unexpected_error_is_500_without_traceback(app: FastAPI, admin: dict[str, str]) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom", headers=admin)
    assert response.status_code == 500
    assert response.json() == {"error": "InternalError", "message": "internal server error"}


def test_unknown_path_and_method_keep_error_shape(
    raw_client: TestClient, admin: dict[str, str]
) -> None:
    missing = raw_client.get("/api/v1/nothing", headers=admin)
    assert missing.status_code == 404 and set(missing.json()) == {"error", "message"}
    wrong = raw_client.patch("/api/v1/sources", headers=admin)
    assert wrong.status_code == 405 and set(wrong.json()) == {"error", "message"}
    assert raw_client.get("/openapi.json").status_code == 200
    assert raw_client.get("/sync.openapi.json").json()["info"]["title"] == "Chroma Sync Service"


def test_unstorable_values_are_400(
    client: TestClient, admin: dict[str, str], s3_source: str
) -> None:
    url = f"/api/v1/sources/{s3_source}/invocations"
    nan = client.post(
        url,
        content=b'{"object_key": "docs/a", "metadata": {"x": NaN}}',
        headers={**admin, "content-type": "application/json"},
    )
    assert nan.status_code == 400 and "metadata.x" in nan.json()["message"]
    huge = client.post(url, json={"object_key": "docs/a", "metadata": {"x": 2**70}}, headers=admin)
    assert huge.status_code == 400
    assert (
        client.get("/api/v1/invocations?limit=99999999999999999999", headers=admin).status_code
        == 400
    )


def test_spec_checker_rejects_unlisted_status_and_bad_body() -> None:
    with pytest.raises(AssertionError, match="not listed"):
        check_response("GET", "/api/v1/sources", 418, b"{}")
    with pytest.raises(AssertionError):
        check_response("GET", "/api/v1/sources", 200, b'[{"id": "x"}]')
    with pytest.raises(AssertionError):
        check_response("POST", "/api/v1/sources", 400, b'{"error": "x"}')
    check_response("POST", "/api/v1/sources", 400, b'{"error": "x", "message": "y"}')
