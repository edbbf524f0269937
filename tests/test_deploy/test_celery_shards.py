"""One big GitHub sync spread over two Celery workers (docs/deploy.md, "Celery").

Contract: with RabbitMQ as broker, Redis as result backend, PostgreSQL for Dagster and the
catalog, a ``chroma run`` server, step outputs in S3 (SeaweedFS) and two ``chroma-sync worker``
processes (each with its own home, so its own git mirror, as on separate machines), an
invocation of a 2,000-file repository created over HTTP syncs as 8 shards that both workers
run, and the collection equals a one-process sync of the same commit (ids, documents,
metadata). A worker killed while it runs a shard: the shard runs again on the other worker, the
invocation completes and the collection is still exact. A re-sync after a commit that changes
1% of the files reads and writes only those files, on the workers. No invocation is left
pending or processing.
"""

import os
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import dagster as dg
import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.devtools.ports import free_port
from sync_pipelines.names import FETCH_GITHUB_OP, SYNC_GITHUB_JOB
from sync_pipelines.ops.github import GithubSyncConfig
from sync_pipelines.settings import get_settings
from tests.test_deploy.celery_helpers import (
    REDIS_BACKEND,
    SHARD_STEP,
    celery_hosts,
    collection_contents,
    output_metadata,
    rabbit_vhost,
    start_worker,
    succeeded_steps,
    wait_for,
    worker_ready,
)
from tests.test_deploy.scale_out_helpers import (
    Api,
    Process,
    Processes,
    chroma_up,
    port_open,
    processes,
    start_api,
    start_chroma,
    start_code_server,
    wait_api,
    wait_terminal,
    wait_until,
    word,
    write_grpc_workspace,
)

DATABASE = "celery_db"
STARTUP_S = 180.0
FILES = 2000
SHARD_FILES = 250
SYNC_TIMEOUT_S = 600.0


def repo_files(revision: int = 0, changed: range = range(0)) -> dict[str, str]:
    """2,000 small files; those in ``changed`` get ``revision``'s text."""
    return {
        f"docs/part{i % 20:02d}/note_{i:04d}.md": (
            f"# Note {i}\n\nNote {i} explains topic {i * 7 % 101}"
            f"{f', revision {revision}' if i in changed else ''}.\n"
        )
        for i in range(FILES)
    }


@dataclass
class Cluster:
    """The running deployment and what the tests need to reach it."""

    api: Api
    procs: Processes
    workers: dict[str, Process]
    worker_env: dict[str, str]
    root: Path
    chroma_port: int
    catalog_url: str
    secret_key: str
    instance: dg.DagsterInstance
    repo: Path
    git_base: str
    source_id: str


@pytest.fixture(scope="module")
def cluster(
    new_database: Callable[[], str],
    s3_server: LocalS3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("celery")
    catalog_url = new_database()
    dagster_url = (
        make_url(new_database())
        .set(drivername="postgresql+psycopg2")
        .render_as_string(hide_password=False)
    )
    catalog = Catalog(catalog_url)
    _, token = catalog.create_token(DATABASE, admin=True)
    catalog.close()
    steps_bucket = f"steps-{uuid.uuid4().hex[:10]}"
    s3_server.client().create_bucket(Bucket=steps_bucket)
    repo = init_bare(root / "git" / "octo" / "big")
    fast_import(repo, [CommitSpec(repo_files())])
    with ExitStack() as stack:
        broker = stack.enter_context(rabbit_vhost())
        daemon = stack.enter_context(GitDaemon(root / "git"))
        procs = stack.enter_context(processes())
        chroma_port, chroma, chroma_log = start_chroma(procs, root / "chroma")
        code_port = free_port()
        dagster = DagsterStack(
            root / "dagster-home",
            webserver=True,
            workspace=write_grpc_workspace(root, code_port),
            postgres_url=dagster_url,
        )
        secret_key = Fernet.generate_key().decode()
        worker_env = {
            "CHROMA_SYNC_HOME": str(root / "code-home"),
            "CHROMA_SYNC_SECRET_KEY": secret_key,
            "CHROMA_SYNC_CATALOG_URL": catalog_url,
            "CHROMA_SYNC_CHROMA_MODE": "http",
            "CHROMA_SYNC_CHROMA_HOST": "127.0.0.1",
            "CHROMA_SYNC_CHROMA_PORT": str(chroma_port),
            "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS": '["127.0.0.1"]',
            "CHROMA_SYNC_DAGSTER_URL": dagster.webserver_url or "",
            "CHROMA_SYNC_LAUNCH_GRACE_SECONDS": "8",
            "CHROMA_SYNC_EXECUTOR": "celery",
            "CHROMA_SYNC_CELERY_BROKER_URL": broker,
            "CHROMA_SYNC_CELERY_BACKEND_URL": REDIS_BACKEND,
            "CHROMA_SYNC_STEP_STORAGE": f"s3://{steps_bucket}/runs",
            "CHROMA_SYNC_S3_ENDPOINT_URL": s3_server.endpoint_url,
            "CHROMA_SYNC_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": s3_server.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
            "CHROMA_SYNC_SHARD_MAX_FILES": str(SHARD_FILES),
            "DAGSTER_HOME": str(dagster.dagster_home),
        }
        code_log = root / "code-server.log"
        code = start_code_server(procs, code_port, worker_env, code_log)
        workers = {name: spawn_worker(procs, name, worker_env, root) for name in ("w1", "w2")}
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(dagster.dagster_home)))
        base, api_proc = start_api(
            procs,
            {
                "CHROMA_SYNC_HOME": str(root / "api-home"),
                "CHROMA_SYNC_SECRET_KEY": secret_key,
                "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS": '["127.0.0.1"]',
                "CHROMA_SYNC_CATALOG_URL": catalog_url,
                "CHROMA_SYNC_DAGSTER_URL": dagster.webserver_url or "",
                "DAGSTER_HOME": str(dagster.dagster_home),
            },
            root / "api.log",
        )
        wait_until(lambda: port_open(code_port), "the code server", code, code_log, STARTUP_S)
        stack.enter_context(dagster)
        wait_until(lambda: chroma_up(chroma_port), "chroma run", chroma, chroma_log, STARTUP_S)
        wait_api(base, api_proc, root / "api.log", STARTUP_S)
        web_log = dagster.dagster_home / "webserver.log"
        info = f"{dagster.webserver_url}/server_info"
        wait_until(
            lambda: requests.get(info, timeout=2).ok,
            "webserver",
            dagster.processes[1],
            web_log,
            STARTUP_S,
        )
        for name, proc in workers.items():
            log = root / f"{name}.log"
            wait_until(lambda log=log: worker_ready(log), name, proc, log, STARTUP_S)
        api = Api(base, token)
        git_base = f"git://127.0.0.1:{daemon.port}"
        source_id = api.create_source(
            {"database_name": DATABASE, "github": {"repository": "octo/big", "base_url": git_base}}
        )
        yield Cluster(
            api,
            procs,
            workers,
            worker_env,
            root,
            chroma_port,
            catalog_url,
            secret_key,
            instance,
            repo,
            git_base,
            source_id,
        )


def spawn_worker(procs: Processes, name: str, env: dict[str, str], root: Path) -> Process:
    """A worker with its own home (its own git mirrors), as on its own machine."""
    home = {"CHROMA_SYNC_HOME": str(root / f"{name}-home")}
    return start_worker(procs, name, {**env, **home}, root / f"{name}.log")


def invoke(cluster: Cluster, collection: str) -> tuple[str, str]:
    """Invoke a sync of the default branch into ``collection``; return invocation and run id."""
    invocation = cluster.api.invoke(
        cluster.source_id,
        {"target_collection_name": collection, "ref_identifier": {"branch": "main"}},
    )
    return invocation, run_id_of(cluster, invocation)


def run_id_of(cluster: Cluster, invocation: str) -> str:
    def run_id() -> str | None:
        catalog = Catalog(cluster.catalog_url)
        try:
            record = catalog.get_invocation_record(uuid.UUID(invocation))
        finally:
            catalog.close()
        return record.run_id if record is not None else None

    found: str = wait_for(run_id, f"the run of invocation {invocation}", 120)
    return found


def one_process_sync(cluster: Cluster, collection: str) -> None:
    """Sync the same source into ``collection`` in this process, one step, no Celery."""
    env = {
        k: v
        for k, v in cluster.worker_env.items()
        if k.startswith("CHROMA_SYNC_") and "CELERY" not in k and "STEP_STORAGE" not in k
    }
    env |= {
        "CHROMA_SYNC_HOME": str(cluster.root / "reference-home"),
        "CHROMA_SYNC_EXECUTOR": "in_process",
        "CHROMA_SYNC_SHARD_MAX_FILES": str(10 * FILES),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        try:
            job = build_definitions(get_settings()).resolve_job_def(SYNC_GITHUB_JOB)
            config = GithubSyncConfig(
                source_id=cluster.source_id, ref={"branch": "main"}, target_collection=collection
            )
            result = job.execute_in_process(run_config=dg.RunConfig(ops={FETCH_GITHUB_OP: config}))
            assert result.is_node_success("upsert_github_op")  # the one-step path
        finally:
            get_settings.cache_clear()


def contents(cluster: Cluster, collection: str) -> dict[str, tuple[Any, Any]]:
    return collection_contents(cluster.chroma_port, DATABASE, collection)


def worker_names(hosts: list[str]) -> set[str]:
    return {host.partition("@")[0] for host in hosts}


def invocation_statuses(cluster: Cluster) -> list[str]:
    """The status of every invocation in the catalog."""
    catalog = Catalog(cluster.catalog_url)
    try:
        with catalog.engine.connect() as conn:
            return [row.status for row in conn.execute(text("SELECT status FROM invocations"))]
    finally:
        catalog.close()


def collection_names(cluster: Cluster) -> set[str]:
    client = chromadb.HttpClient(host="127.0.0.1", port=cluster.chroma_port, database=DATABASE)
    return {c.name for c in client.list_collections()}


def reference(cluster: Cluster, collection: str) -> dict[str, tuple[Any, Any]]:
    """``collection`` synced by one process at the branch's head (synced once)."""
    if collection not in collection_names(cluster):
        one_process_sync(cluster, collection)
    return contents(cluster, collection)


def test_a_big_sync_runs_as_shards_on_both_workers_and_equals_one_process(
    cluster: Cluster,
) -> None:
    invocation, run_id = invoke(cluster, "code")
    (final,) = wait_terminal([cluster.api], [invocation], SYNC_TIMEOUT_S)

    assert word(final) == "complete", final
    hosts = celery_hosts(cluster.instance, run_id)
    shards = {key: h for key, h in hosts.items() if key.startswith(SHARD_STEP)}
    assert len(shards) == FILES // SHARD_FILES, hosts
    assert worker_names([h for hs in shards.values() for h in hs]) == {"w1", "w2"}, hosts
    assert set(hosts) >= {"fetch_github_op", "finish_github_op"}  # every step on a worker
    finish = output_metadata(cluster.instance, run_id, "finish_github_op")
    assert finish["files_changed"] == FILES and finish["shards"] == len(shards)
    got = contents(cluster, "code")
    assert len(got) == FILES and got == reference(cluster, "reference")


def test_a_worker_killed_mid_shard_is_replaced_by_the_other(cluster: Cluster) -> None:
    invocation, run_id = invoke(cluster, "code_kill")

    def w1_in_a_shard() -> str | None:
        done = succeeded_steps(cluster.instance, run_id)
        for key, hosts in celery_hosts(cluster.instance, run_id).items():
            if key.startswith(SHARD_STEP) and key not in done and hosts[-1].startswith("w1@"):
                return key
        return None

    killed_step = wait_for(w1_in_a_shard, "w1 running a shard", SYNC_TIMEOUT_S)
    os.killpg(cluster.workers["w1"].pid, signal.SIGKILL)
    (final,) = wait_terminal([cluster.api], [invocation], SYNC_TIMEOUT_S)
    cluster.workers["w1"] = spawn_worker(cluster.procs, "w1", cluster.worker_env, cluster.root)

    assert word(final) == "complete", final
    hosts = celery_hosts(cluster.instance, run_id)
    assert worker_names(hosts[killed_step]) == {"w1", "w2"}, hosts[killed_step]
    assert hosts[killed_step][-1].startswith("w2@")
    assert killed_step in succeeded_steps(cluster.instance, run_id)
    assert contents(cluster, "code_kill") == reference(cluster, "reference")


def test_a_one_percent_change_touches_only_the_changed_files(cluster: Cluster) -> None:
    if "code" not in collection_names(cluster):  # this test alone: sync the first commit
        first, _ = invoke(cluster, "code")
        assert word(wait_terminal([cluster.api], [first], SYNC_TIMEOUT_S)[0]) == "complete"
    before = contents(cluster, "code")
    changed = range(0, FILES, 100)  # 20 files, 1%
    fast_import(cluster.repo, [CommitSpec(repo_files(1, changed))])

    invocation, run_id = invoke(cluster, "code")
    (final,) = wait_terminal([cluster.api], [invocation], SYNC_TIMEOUT_S)

    assert word(final) == "complete", final
    fetched = output_metadata(cluster.instance, run_id, "fetch_github_op")
    assert fetched["mode"] == "diff" and fetched["files_to_chunk"] == len(changed)
    written = output_metadata(cluster.instance, run_id, "upsert_github_op")
    assert written["files_changed"] == len(changed) and written["chunks_written"] == len(changed)
    assert written["files_unchanged"] == FILES - len(changed)
    assert set(celery_hosts(cluster.instance, run_id)) >= {"fetch_github_op", "upsert_github_op"}
    after = contents(cluster, "code")
    differs = {after[cid][1]["document_key"] for cid in after if after[cid] != before.get(cid)}
    assert differs == {f"docs/part{i % 20:02d}/note_{i:04d}.md" for i in changed}
    assert after == reference(cluster, "reference_resync")
    assert set(invocation_statuses(cluster)) == {"complete"}
