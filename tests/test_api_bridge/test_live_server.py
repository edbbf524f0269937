"""The API through a real uvicorn server, on SQLite and PostgreSQL catalogs.

Contract: concurrent identical create-invocation requests from many threads yield exactly one
201 and 409 for all the others (the catalog serialises them), the winner is the only pending
invocation stored, a pending invocation can then be cancelled (202) and cancelling again is
412; every response is checked against the patched spec.
"""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from api_bridge.app import create_app
from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.tables import Base
from sync_pipelines.settings import Settings
from tests.test_api_bridge.conftest import S3, check_response, live_server

THREADS = 12


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    else:
        catalog = Catalog(request.getfixturevalue("pg_url"))
    try:
        yield catalog
    finally:
        Base.metadata.drop_all(catalog.engine)
        catalog.close()


def call(session: requests.Session, method: str, url: str, path: str, **kw) -> requests.Response:  # type: ignore[no-untyped-def]
    response = session.request(method, url + path, timeout=30, **kw)
    check_response(method, path, response.status_code, response.content)
    return response


def test_concurrent_duplicates_give_one_201_then_cancel(
    live_catalog: Catalog, settings: Settings
) -> None:
    _, secret = live_catalog.create_token("db1", admin=True)
    headers = {"x-chroma-token": secret}
    app = create_app(settings, catalog=live_catalog, orchestrator_probe=lambda: True)
    with live_server(app) as base, requests.Session() as session:
        created = call(
            session,
            "POST",
            base,
            "/api/v1/sources",
            json={"database_name": "db1", "s3": S3},
            headers=headers,
        )
        source_id = created.json()["source_id"]
        path = f"/api/v1/sources/{source_id}/invocations"
        barrier = threading.Barrier(THREADS)
        statuses: list[int] = []
        winners: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            with requests.Session() as own:
                barrier.wait()
                response = call(own, "POST", base, path, json={"object_key": "k"}, headers=headers)
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 201:
                    winners.append(response.json()["invocation_id"])

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(statuses) == [201] + [409] * (THREADS - 1)
        pending = live_catalog.list_invocations(database_name="db1", status="pending")
        assert [str(job.id) for job in pending] == winners
        invocation = f"/api/v1/invocations/{winners[0]}"
        cancelled = call(session, "PUT", base, invocation, headers=headers)
        assert (cancelled.status_code, cancelled.json()) == (202, {})
        assert call(session, "PUT", base, invocation, headers=headers).status_code == 412
        job = live_catalog.get_invocation(uuid.UUID(winners[0]))
        assert job is not None and job.status.word == "cancelled"
        after = call(session, "POST", base, path, json={"object_key": "k"}, headers=headers)
        assert after.status_code == 201
