"""``/health`` and the error contract shared by every operation.

Contract: ``/health`` is 200 when the catalog and the orchestrator probe answer, 503 when
either does not; the default probe reads the Dagster instance's SENSOR daemon heartbeat.
Bodies over the limit are 413, an unexpected exception is a 500 ``ErrorResponse`` without a
traceback, unknown paths keep the ``ErrorResponse`` shape, values the catalog cannot store
(NUL, non-finite numbers) are 400, and the spec-checking fixture itself rejects bodies and
statuses the spec does not allow.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_bridge.app import create_app
from api_bridge.deps import get_orchestrator_probe
from api_bridge.routers.health import (
    cached_probe,
    dagster_sensor_daemon_probe,
    dagster_webserver_probe,
)
from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.ports import free_port
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


def test_webserver_probe_is_false_when_the_webserver_does_not_answer() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert dagster_webserver_probe(url, max_age_s=60)() is False


def test_cached_probe_reuses_a_healthy_answer_for_its_ttl_and_never_raises() -> None:
    answers = iter([False, True, False])
    calls: list[float] = []

    def probe() -> bool:
        calls.append(time.monotonic())
        return next(answers)

    cached = cached_probe(probe, ttl_s=0.3)
    assert cached() is False  # not cached: the next call asks again
    assert [cached(), cached(), cached()] == [True, True, True]
    assert len(calls) == 2
    time.sleep(0.35)
    assert cached() is False
    assert len(calls) == 3

    def broken() -> bool:
        raise RuntimeError("boom")

    assert cached_probe(broken, ttl_s=10)() is False


def test_the_api_process_never_imports_dagster(tmp_path: Path) -> None:
    """Health, source and invocation requests with a webserver URL leave Dagster unimported."""
    script = tmp_path / "probe_imports.py"
    script.write_text(
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from api_bridge.app import create_app\n"
        "from sync_pipelines.catalog import Catalog\n"
        "from sync_pipelines.settings import Settings\n"
        f"home = {str(tmp_path)!r}\n"
        "settings = Settings(home=home, dagster_url='http://127.0.0.1:9',"
        " s3_server_credentials_databases=['db1'])\n"
        "catalog = Catalog(settings.resolved_catalog_url)\n"
        "_, token = catalog.create_token('db1', admin=True)\n"
        "headers = {'x-chroma-token': token}\n"
        "with TestClient(create_app(settings, catalog=catalog)) as client:\n"
        "    assert client.get('/health').status_code == 503\n"
        "    body = {'database_name': 'db1', 's3': {'bucket_name': 'b', 'region': 'us-east-1',"
        " 'collection_name': 'kb1'}}\n"
        "    created = client.post('/api/v1/sources', json=body, headers=headers)\n"
        "    assert created.status_code == 201, created.text\n"
        "    source = created.json()['source_id']\n"
        "    job = client.post(f'/api/v1/sources/{source}/invocations',"
        " json={'object_key': 'a.md'}, headers=headers)\n"
        "    assert job.status_code == 201, job.text\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('dagster', 'dagster_graphql', 'dagster_aws', 'chromadb', 'onnxruntime'))\n"
        "print(loaded)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHROMA_SYNC_")}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


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
