"""The Celery deployment of test_celery_shards.py as a value, and what its tests do with it.

Invoke a sync, find its run, sync a reference in one process, read collections and statuses.
"""

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import dagster as dg
import pytest
from sqlalchemy import text

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.names import FETCH_GITHUB_OP, SYNC_GITHUB_JOB
from sync_pipelines.ops.github import GithubSyncConfig
from sync_pipelines.settings import get_settings
from tests.test_deploy.celery_helpers import collection_contents, start_worker, wait_for
from tests.test_deploy.netns import Namespaces
from tests.test_deploy.scale_out_helpers import Api, Process, Processes

DATABASE = "celery_db"


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
    namespaces: Namespaces | None


def spawn_worker(
    procs: Processes,
    name: str,
    env: dict[str, str],
    root: Path,
    namespaces: Namespaces | None,
    index: int,
) -> Process:
    """A worker with its own home (its own git mirrors) and, where the machine allows, its own
    network namespace: as on its own machine."""
    home = {"CHROMA_SYNC_HOME": str(root / f"{name}-home")}
    prefix = namespaces.prefix(index) if namespaces else []
    return start_worker(procs, name, {**env, **home}, root / f"{name}.log", prefix)


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
        "CHROMA_SYNC_SHARD_MAX_FILES": str(10**9),
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
