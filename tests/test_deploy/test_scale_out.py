"""The scale-out deployment (docs/deploy.md) on one machine, every part a real process.

Contract: with the catalog and Dagster's storage in PostgreSQL, collections on a ``chroma run``
server, the code location served over gRPC and two API replicas, one S3, one GitHub and one web
source created over HTTP each sync to ``complete``; their chunks are on the Chroma server under
the expected ids and document keys, and the runs that did the work are in Dagster's PostgreSQL
storage (no SQLite file anywhere). Two API processes on one PostgreSQL catalog admit exactly
one of many concurrent duplicate create-invocation requests: one 201, the rest 409 naming it,
and one pending row in the catalog.
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from dagster import DagsterInstance, DagsterRunStatus
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.dagster_stack import DagsterStack, write_instance_config
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.devtools.ports import free_port
from sync_pipelines.devtools.web_site import LocalWebSite
from sync_pipelines.names import (
    SYNC_GITHUB_JOB,
    SYNC_S3_BATCH_JOB,
    SYNC_S3_OBJECT_JOB,
    SYNC_WEB_JOB,
)
from tests.test_api_bridge.conftest import check_response
from tests.test_deploy.scale_out_helpers import (
    Api,
    assert_chunk_ids,
    chroma_up,
    port_open,
    processes,
    server_chunks,
    start_api,
    start_chroma,
    start_code_server,
    wait_api,
    wait_terminal,
    wait_until,
    word,
    write_grpc_workspace,
)

DATABASE = "deploy_db"
STARTUP_S = 180.0
FILES = {
    "README.md": "# Demo\n\nA demo repository.\n",
    "src/app.py": "def main():\n    return 'app'\n",
    "docs/guide.md": "# Guide\n\nHow to use it.\n",
}


@dataclass
class Cluster:
    """The running deployment: API replicas, Chroma server port, catalog and Dagster instance."""

    apis: list[Api]
    chroma_port: int
    catalog_url: str
    instance: DagsterInstance
    dagster_homes: list[Path]


@pytest.fixture(scope="module")
def cluster(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """The deployment of docs/deploy.md on 127.0.0.1, every part its own process."""
    root = tmp_path_factory.mktemp("scale-out")
    catalog_url = new_database()
    dagster_pg = make_url(new_database()).set(drivername="postgresql+psycopg2")
    dagster_url = dagster_pg.render_as_string(hide_password=False)
    catalog = Catalog(catalog_url)
    _, token = catalog.create_token(DATABASE, admin=True)
    catalog.close()
    with ExitStack() as stack:
        procs = stack.enter_context(processes())
        chroma_port, chroma, chroma_log = start_chroma(procs, root / "chroma")
        code_port = free_port()
        dagster = DagsterStack(
            root / "dagster-home",
            webserver=True,
            workspace=write_grpc_workspace(root, code_port),
            postgres_url=dagster_url,
        )
        # Each process gets only the settings docs/deploy.md lists for it: the daemon and the
        # webserver only DAGSTER_HOME (set by DagsterStack), the code server (and the runs it
        # starts) the sync settings, the API replicas the catalog and the webserver's URL.
        secret_key = Fernet.generate_key().decode()  # one key for every catalog user
        worker_env = {
            "CHROMA_SYNC_HOME": str(root / "worker-home"),
            "CHROMA_SYNC_SECRET_KEY": secret_key,
            "CHROMA_SYNC_CATALOG_URL": catalog_url,
            "CHROMA_SYNC_CHROMA_MODE": "http",
            "CHROMA_SYNC_CHROMA_HOST": "127.0.0.1",
            "CHROMA_SYNC_CHROMA_PORT": str(chroma_port),
            "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS": '["127.0.0.1"]',
            "CHROMA_SYNC_CRAWL_MAX_RETRIES": "1",
            "CHROMA_SYNC_DAGSTER_URL": dagster.webserver_url or "",
            "CHROMA_SYNC_LAUNCH_GRACE_SECONDS": "8",
            "DAGSTER_HOME": str(dagster.dagster_home),
        }
        code_log = root / "code-server.log"
        code = start_code_server(procs, code_port, worker_env, code_log)
        # One process creates Dagster's schema before the daemon, webserver and APIs open it.
        instance = stack.enter_context(DagsterInstance.from_config(str(dagster.dagster_home)))
        api_home = write_instance_config(root / "api-dagster-home", dagster_url)
        replicas = [
            start_api(
                procs,
                {
                    "CHROMA_SYNC_HOME": str(root / f"api-home-{i}"),
                    "CHROMA_SYNC_SECRET_KEY": secret_key,
                    "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS": '["127.0.0.1"]',
                    "CHROMA_SYNC_CATALOG_URL": catalog_url,
                    "CHROMA_SYNC_DAGSTER_URL": dagster.webserver_url or "",
                    "DAGSTER_HOME": str(api_home),
                },
                root / f"api-{i}.log",
            )
            for i in range(2)
        ]
        wait_until(lambda: port_open(code_port), "the code server", code, code_log, STARTUP_S)
        stack.enter_context(dagster)
        wait_until(lambda: chroma_up(chroma_port), "chroma run", chroma, chroma_log, STARTUP_S)
        for i, (base, proc) in enumerate(replicas):
            wait_api(base, proc, root / f"api-{i}.log", STARTUP_S)
        webserver = dagster.processes[1]
        web_log = dagster.dagster_home / "webserver.log"
        info = f"{dagster.webserver_url}/server_info"
        wait_until(
            lambda: requests.get(info, timeout=2).ok, "webserver", webserver, web_log, STARTUP_S
        )
        yield Cluster(
            [Api(base, token) for base, _ in replicas],
            chroma_port,
            catalog_url,
            instance,
            [dagster.dagster_home, api_home],
        )


def run_of(cluster: Cluster, invocation_id: str) -> Any:
    """The Dagster run that served the invocation, once it has finished, from PostgreSQL."""
    catalog = Catalog(cluster.catalog_url)
    try:
        record = catalog.get_invocation_record(uuid.UUID(invocation_id))
    finally:
        catalog.close()
    assert record is not None and record.run_id, record
    deadline = time.monotonic() + 60
    while True:
        run = cluster.instance.get_run_by_id(record.run_id)
        if run is not None and run.is_finished:
            return run
        assert time.monotonic() < deadline, f"run {record.run_id} not finished: {run}"
        time.sleep(0.5)


def test_one_source_of_each_type_syncs_through_the_scaled_out_stack(
    cluster: Cluster,
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
) -> None:
    api1, api2 = cluster.apis
    s3_client.put_object(
        Bucket=bucket, Key="faq.md", Body=b"# Refunds\n\nRefunds are issued within 14 days.\n"
    )
    init_bare(tmp_path / "git" / "octo" / "demo")
    fast_import(tmp_path / "git" / "octo" / "demo", [CommitSpec(FILES)])
    with GitDaemon(tmp_path / "git") as daemon, LocalWebSite() as site:
        site.add_html("/", "Home", "<h1>Welcome</h1><p>Start here.</p>", ["/a", "/b"])
        site.add_html("/a", "Page A", "<h1>Page A</h1><p>The a feature explained.</p>")
        site.add_html("/b", "Page B", "<h1>Page B</h1><p>The b feature explained.</p>")
        s3_id = api1.create_source(s3_server.source_body(DATABASE, bucket, "docs"))
        git_body = {"repository": "octo/demo", "base_url": f"git://127.0.0.1:{daemon.port}"}
        git_id = api2.create_source({"database_name": DATABASE, "github": git_body})
        web_body = {"starting_url": site.url("/")}
        web_id = api1.create_source({"database_name": DATABASE, "web_scrape": web_body})
        invocations = [
            api2.invoke(s3_id, {"object_key": "faq.md"}),
            api1.invoke(
                git_id, {"target_collection_name": "code", "ref_identifier": {"branch": "main"}}
            ),
            api2.invoke(web_id, {"target_collection_name": "site"}),
        ]
        finals = wait_terminal(cluster.apis, invocations, timeout=240)

    assert [word(s) for s in finals] == ["complete"] * 3, finals
    assert_chunk_ids(server_chunks(cluster.chroma_port, DATABASE, "docs"), {"faq.md"})
    assert_chunk_ids(server_chunks(cluster.chroma_port, DATABASE, "code"), set(FILES))
    assert_chunk_ids(
        server_chunks(cluster.chroma_port, DATABASE, "site"),
        {site.url("/"), site.url("/a"), site.url("/b")},
    )
    expected_jobs = [{SYNC_S3_OBJECT_JOB, SYNC_S3_BATCH_JOB}, {SYNC_GITHUB_JOB}, {SYNC_WEB_JOB}]
    for invocation_id, jobs in zip(invocations, expected_jobs, strict=True):
        run = run_of(cluster, invocation_id)
        assert run.status == DagsterRunStatus.SUCCESS and run.job_name in jobs, run
    assert type(cluster.instance.run_storage).__name__ == "PostgresRunStorage"
    assert [p for home in cluster.dagster_homes for p in home.rglob("*.db")] == []
    for api in cluster.apis:  # each replica reads the daemon's heartbeat from PostgreSQL
        health = requests.get(f"{api.base}/health", timeout=10)
        assert health.status_code == 200 and health.json()["orchestrator"] == "ok", health.text


def test_concurrent_duplicate_invocations_across_two_api_processes_admit_exactly_one(
    new_database: Callable[[], str],
    s3_server: LocalS3Server,
    bucket: str,
    tmp_path: Path,
) -> None:
    catalog_url = new_database()
    catalog = Catalog(catalog_url)
    _, token = catalog.create_token(DATABASE, admin=True)
    env = {"CHROMA_SYNC_CATALOG_URL": catalog_url, "CHROMA_SYNC_DAGSTER_URL": ""}
    with processes() as procs:
        replicas = [
            start_api(
                procs,
                {**env, "CHROMA_SYNC_HOME": str(tmp_path / f"home-{i}")},
                tmp_path / f"api-{i}.log",
            )
            for i in range(2)
        ]
        for i, (base, proc) in enumerate(replicas):
            wait_api(base, proc, tmp_path / f"api-{i}.log", STARTUP_S)
        bases = [base for base, _ in replicas]
        source_id = Api(bases[0], token).create_source(
            s3_server.source_body(DATABASE, bucket, "docs")
        )
        path = f"/api/v1/sources/{source_id}/invocations"
        count = 16
        barrier = threading.Barrier(count)

        def fire(i: int) -> requests.Response:
            with requests.Session() as session:
                barrier.wait(timeout=30)
                return session.post(
                    bases[i % 2] + path,
                    json={"object_key": "same.md"},
                    headers={"x-chroma-token": token},
                    timeout=60,
                )

        with ThreadPoolExecutor(count) as pool:
            responses = list(pool.map(fire, range(count)))

    for response in responses:
        check_response("POST", path, response.status_code, response.content)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (count - 1), statuses
    (winner,) = [r.json()["invocation_id"] for r in responses if r.status_code == 201]
    for response in responses:
        if response.status_code == 409:
            body = response.json()
            assert body["error"] == "AlreadyExistsError"
            assert body["message"] == f"invocation exists: invocation {winner} is already pending"
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, status FROM invocations WHERE source_id = :s AND object_key = :k"),
            {"s": uuid.UUID(source_id), "k": "same.md"},
        ).all()
    catalog.close()
    assert [(str(row.id), row.status) for row in rows] == [(winner, "pending")]
