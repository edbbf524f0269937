"""End to end: invocations whose run worker dies still reach a terminal state.

Contract, on a real Dagster daemon with run workers writing to a ``chroma run`` server
(``CHROMA_SYNC_CHROMA_MODE=http``): ``kill -9`` of the run worker of a web sync in progress
fails its invocation within 2 minutes with an error naming the dead run, and a new
invocation of the same source then completes. ``kill -9`` of the whole Dagster process tree
during a sync, with another invocation's run left ``NOT_STARTED`` (a crash between creating
and submitting it), then a restart on the same home: the invocation that was processing is
failed naming its run and its gone worker, and the pending one is launched again and
completes.
"""

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from api_bridge.app import create_app
from sensors.reconciler import RUN_KEY_TAG
from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.chroma_server import ChromaServer
from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.devtools.web_site import LocalWebSite, Page, Request
from sync_pipelines.names import INVOCATION_SENSOR
from sync_pipelines.run_requests import run_request_for
from sync_pipelines.settings import Settings, get_settings
from tests.test_api_bridge.conftest import live_server
from tests.test_api_bridge.stack_helpers import Api, word

DATABASE = "dead_runs_db"
DEADLINE_S = 120.0


class Site:
    """A local site whose ``/slow`` page answers only once released."""

    def __init__(self, site: LocalWebSite) -> None:
        self.site = site
        self.release = threading.Event()
        site.add_html("/", "Home", "<p>Home page of the slow site.</p>", links=["/slow"])
        site.pages["/slow"] = self._slow
        site.add_html("/fast", "Fast", "<p>A page that answers at once.</p>")

    def _slow(self, _request: Request) -> Page:
        self.release.wait(DEADLINE_S * 3)
        return Page("<html><body><p>The slow page, at last.</p></body></html>")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with LocalWebSite() as local:
        slow = Site(local)
        yield slow
        slow.release.set()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dead-runs")


@pytest.fixture(scope="module")
def chroma(home: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(home / "chroma").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack_env(home: Path, chroma: ChromaServer) -> dict[str, str]:
    return {
        "CHROMA_SYNC_HOME": str(home / "home"),
        "CHROMA_SYNC_CRAWL_ALLOW_HOSTS": json.dumps(["127.0.0.1/32"]),
        **chroma.env,
    }


@pytest.fixture(scope="module")
def stack(home: Path, stack_env: dict[str, str]) -> Iterator[DagsterStack]:
    dagster = DagsterStack(home / "dagster", env=stack_env).start()
    yield dagster
    dagster.stop()


@pytest.fixture
def api(
    stack: DagsterStack, stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, Catalog]]:
    """The HTTP API on the stack's home (runs are launched by the invocation sensor)."""
    for name, value in {**stack_env, "DAGSTER_HOME": str(stack.dagster_home)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    settings = Settings()
    catalog = Catalog(settings.resolved_catalog_url)
    _, token = catalog.create_token(DATABASE, admin=True)
    with live_server(create_app(settings, orchestrator_probe=lambda: True)) as base:
        yield Api(base, token), catalog


def web_source(api: Api, url: str) -> str:
    body = {"database_name": DATABASE, "web_scrape": {"starting_url": url}}
    response = api.call("POST", "/api/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["source_id"])


def invoke(api: Api, source_id: str, collection: str | None = None) -> str:
    body = {"target_collection_name": collection or f"site-{uuid.uuid4().hex[:8]}"}
    response = api.call("POST", f"/api/v1/sources/{source_id}/invocations", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["invocation_id"])


def wait_until(check: Any, what: str, timeout: float = DEADLINE_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def worker_of(catalog: Catalog, invocation_id: str, stack: DagsterStack) -> tuple[str, int]:
    """The run processing the invocation, and its worker's pid (in the daemon's tree)."""
    record = catalog.get_invocation_record(uuid.UUID(invocation_id))
    assert record is not None and record.run_id is not None
    with dg.DagsterInstance.get() as instance:
        starts = instance.get_records_for_run(
            record.run_id, of_type=dg.DagsterEventType.RUN_START
        ).records
    event = starts[0].event_log_entry.dagster_event
    assert event is not None and event.pid is not None
    daemon = stack.processes[0].pid
    assert os.getpgid(event.pid) == daemon, "the run worker is not in the daemon's tree"
    return record.run_id, event.pid


def start_slow_sync(
    api: Api, catalog: Catalog, site: Site, source_id: str, collection: str | None = None
) -> str:
    """Invoke a sync of the slow site and return once its run is fetching ``/slow``."""
    site.release.clear()
    site.site.clear_log()
    invocation_id = invoke(api, source_id, collection)
    wait_until(lambda: site.site.requests_for("/slow"), "the run to fetch /slow")
    assert word(api.status(invocation_id)) == "processing"
    return invocation_id


def snapshot(chroma: ChromaServer, name: str) -> dict[str, tuple[str, Any]]:
    """Ids, documents and metadata of a collection on the stack's Chroma server."""
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma.port, database=DATABASE)
    got = client.get_collection(name).get(include=["documents", "metadatas"])
    return {
        cid: (doc, meta)
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


def test_killed_run_worker_fails_its_invocation_and_the_next_one_completes(
    api: tuple[Api, Catalog], stack: DagsterStack, site: Site, chroma: ChromaServer
) -> None:
    client, catalog = api
    source_id = web_source(client, site.site.url("/"))
    invocation_id = start_slow_sync(client, catalog, site, source_id, "site-killed")
    run_id, pid = worker_of(catalog, invocation_id, stack)

    os.kill(pid, signal.SIGKILL)
    final = client.wait(invocation_id, timeout=DEADLINE_S)[-1]

    assert word(final) == "failed"
    assert final["failed"]["error"].startswith(f"run {run_id} died: "), final
    site.release.set()
    again = invoke(client, source_id, "site-killed")
    assert word(client.wait(again, timeout=DEADLINE_S)[-1]) == "complete"
    fresh = invoke(client, source_id, "site-fresh")
    assert word(client.wait(fresh, timeout=DEADLINE_S)[-1]) == "complete"
    killed, clean = snapshot(chroma, "site-killed"), snapshot(chroma, "site-fresh")
    assert len(killed) == 2 and killed == clean  # the home page and /slow


def orphan_run(catalog: Catalog, invocation_id: str) -> str:
    """Create the invocation's run as a crashed sensor tick leaves it: NOT_STARTED."""
    record = catalog.get_invocation_record(uuid.UUID(invocation_id))
    assert record is not None and record.job.source_id is not None
    source = catalog.get_source(record.job.source_id)
    request = run_request_for(record, source, max_object_bytes=10_000_000)
    job = build_definitions(get_settings()).resolve_job_def(request.job_name or "")
    tags = {**request.tags, RUN_KEY_TAG: invocation_id, "dagster/sensor_name": INVOCATION_SENSOR}
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            job, run_config=request.run_config, tags=tags, status=dg.DagsterRunStatus.NOT_STARTED
        )
    return run.run_id


def test_after_the_whole_tree_is_killed_every_invocation_reaches_a_terminal_state(
    api: tuple[Api, Catalog], stack: DagsterStack, site: Site
) -> None:
    client, catalog = api
    slow_source = web_source(client, site.site.url("/"))
    fast_source = web_source(client, site.site.url("/fast"))
    processing = start_slow_sync(client, catalog, site, slow_source)
    run_id, pid = worker_of(catalog, processing, stack)
    for proc in stack.processes:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    stack.stop()
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), "the worker to be gone", 10)
    pending = invoke(client, fast_source)
    orphan = orphan_run(catalog, pending)
    site.release.set()

    stack.start()
    failed = client.wait(processing, timeout=DEADLINE_S)[-1]
    done = client.wait(pending, timeout=DEADLINE_S * 2)[-1]

    assert failed == {"failed": {"error": f"run {run_id} died: worker process {pid} is gone"}}
    assert word(done) == "complete", done
    record = catalog.get_invocation_record(uuid.UUID(pending))
    assert record is not None and record.run_id not in (None, orphan)
    with dg.DagsterInstance.get() as instance:
        released = instance.get_run_by_id(orphan)
    assert released is not None and released.status in (
        dg.DagsterRunStatus.CANCELED,
        dg.DagsterRunStatus.FAILURE,  # run monitoring's start timeout may end it first
    )
