"""One big GitHub sync spread over two Celery workers (docs/deploy.md, "Celery").

Contract: with RabbitMQ as broker, Redis as result backend, PostgreSQL for Dagster and the
catalog, a ``chroma run`` server, step outputs in S3 (SeaweedFS) and two ``chroma-sync worker``
processes, each with its own home (so its own git mirror) and, where the machine allows it
(root and iproute2), its own network namespace that reaches the services only through a relay
on the host's address (tests/test_deploy/netns.py), as on separate machines, an
invocation of a 2,000-file repository created over HTTP syncs as 8 shards that both workers
run, and the collection equals a one-process sync of the same commit (ids, documents,
metadata). A worker killed while it runs a shard: the shard runs again on the other worker, the
invocation completes and the collection is still exact. A re-sync after a commit that changes
1% of the files reads and writes only those files, on the workers. No invocation is left
pending or processing.
"""

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import dagster as dg
import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.devtools.ports import free_port
from tests.test_deploy.celery_cluster import (
    DATABASE,
    Cluster,
    collection_names,
    contents,
    invocation_statuses,
    invoke,
    reference,
    spawn_worker,
    worker_names,
)
from tests.test_deploy.celery_helpers import (
    REDIS_BACKEND,
    SHARD_STEP,
    celery_hosts,
    output_metadata,
    rabbit_vhost,
    start_relay,
    succeeded_steps,
    wait_for,
    worker_ready,
)
from tests.test_deploy.netns import net_namespace, worker_namespaces
from tests.test_deploy.scale_out_helpers import (
    Api,
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
        namespaces = stack.enter_context(worker_namespaces(2))
        # Every process reaches the services at one address: in namespaces, the host's address
        # on the workers' links, relayed to 127.0.0.1 (workers have their own loopback).
        host = namespaces.service_host if namespaces else "127.0.0.1"
        if namespaces:
            ports = [make_url(catalog_url).port or 5432, 5672, 6379, chroma_port, daemon.port]
            ports.append(int(s3_server.endpoint_url.rpartition(":")[2]))
            start_relay(procs, host, ports, root / "relay.log")
        catalog_url = make_url(catalog_url).set(host=host).render_as_string(hide_password=False)
        dagster_url = make_url(dagster_url).set(host=host).render_as_string(hide_password=False)
        allow = json.dumps(["127.0.0.1", *([namespaces.network] if namespaces else [])])
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
            "CHROMA_SYNC_CHROMA_HOST": host,
            "CHROMA_SYNC_CHROMA_PORT": str(chroma_port),
            "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS": allow,
            "CHROMA_SYNC_DAGSTER_URL": dagster.webserver_url or "",
            "CHROMA_SYNC_LAUNCH_GRACE_SECONDS": "8",
            "CHROMA_SYNC_EXECUTOR": "celery",
            "CHROMA_SYNC_CELERY_BROKER_URL": broker.replace("127.0.0.1", host),
            "CHROMA_SYNC_CELERY_BACKEND_URL": REDIS_BACKEND.replace("127.0.0.1", host),
            "CHROMA_SYNC_STEP_STORAGE": f"s3://{steps_bucket}/runs",
            "CHROMA_SYNC_S3_ENDPOINT_URL": s3_server.endpoint_url.replace("127.0.0.1", host),
            "CHROMA_SYNC_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": s3_server.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
            "CHROMA_SYNC_SHARD_MAX_FILES": str(SHARD_FILES),
            "DAGSTER_HOME": str(dagster.dagster_home),
        }
        code_log = root / "code-server.log"
        code = start_code_server(procs, code_port, worker_env, code_log)
        workers = {
            name: spawn_worker(procs, name, worker_env, root, namespaces, i)
            for i, name in enumerate(("w1", "w2"))
        }
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(dagster.dagster_home)))
        base, api_proc = start_api(
            procs,
            {
                "CHROMA_SYNC_HOME": str(root / "api-home"),
                "CHROMA_SYNC_SECRET_KEY": secret_key,
                "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS": allow,
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
        git_base = f"git://{host}:{daemon.port}"
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
            namespaces,
        )


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
    if cluster.namespaces is not None:  # each worker had a network of its own
        spaces = {net_namespace(proc.pid) for proc in cluster.workers.values()}
        assert len(spaces) == 2 and net_namespace(os.getpid()) not in spaces
        probe = "import socket; socket.create_connection(('127.0.0.1', 5432), 3)"
        inside = subprocess.run(
            [*cluster.namespaces.prefix(0), sys.executable, "-c", probe], capture_output=True
        )
        assert inside.returncode != 0  # the host's loopback services are out of reach


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
    cluster.workers["w1"] = spawn_worker(
        cluster.procs, "w1", cluster.worker_env, cluster.root, cluster.namespaces, 0
    )

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
