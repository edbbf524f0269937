"""Pieces of the Celery deployment test: a RabbitMQ virtual host, workers, run events.

Each test module gets its own RabbitMQ virtual host, so steps are never taken by a worker of
another test run on the machine (dagster-celery's queue is always named ``dagster``).
"""

import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
from dagster import DagsterInstance

from tests.test_deploy.scale_out_helpers import Process, Processes, _bin

RABBIT = "amqp://guest:guest@127.0.0.1:5672"
REDIS_BACKEND = "redis://127.0.0.1:6379/0"
SHARD_STEP = "sync_github_shard_op["


@contextmanager
def rabbit_vhost() -> Iterator[str]:
    """Yield the broker URL of a new RabbitMQ virtual host (the default one without
    ``rabbitmqctl``), deleted afterwards."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        yield f"{RABBIT}//"
        return
    name = f"chroma-sync-test-{uuid.uuid4().hex[:10]}"
    subprocess.run([ctl, "-q", "add_vhost", name], check=True, timeout=60)
    try:
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True,
            timeout=60,
        )
        yield f"{RABBIT}/{name}"
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", name], check=False, timeout=60)


def start_worker(
    procs: Processes, name: str, env: dict[str, str], log: Path, prefix: list[str]
) -> Process:
    """Spawn ``chroma-sync worker --name NAME`` (one step at a time) behind ``prefix``."""
    return procs.spawn([*prefix, _bin("chroma-sync"), "worker", "--name", name], env, log)


def start_relay(procs: Processes, host: str, ports: list[int], log: Path) -> Process:
    """Relay ``host:P`` to ``127.0.0.1:P`` for each port; return once every port listens."""
    args = [sys.executable, "-m", "tests.test_deploy.relay", host, "127.0.0.1"]
    proc = procs.spawn([*args, *map(str, ports)], {}, log)
    deadline = time.monotonic() + 30
    while "ready" not in (log.read_text() if log.exists() else ""):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return proc


def worker_ready(log: Path) -> bool:
    """Whether the worker logging to ``log`` has connected and is consuming."""
    return log.exists() and " ready." in log.read_text(errors="replace")


def celery_hosts(instance: DagsterInstance, run_id: str) -> dict[str, list[str]]:
    """Step key -> the workers (``name@host``) that began executing it, in order."""
    hosts: dict[str, list[str]] = defaultdict(list)
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.event_type_value != "ENGINE_EVENT":
            continue
        if "in celery worker" not in (event.message or ""):
            continue
        metadata = event.event_specific_data.metadata  # type: ignore[union-attr]
        worker = metadata.get("Celery worker")
        if worker is not None and event.step_key:
            hosts[event.step_key].append(str(worker.value))
    return dict(hosts)


def succeeded_steps(instance: DagsterInstance, run_id: str) -> set[str]:
    """Keys of the run's steps that succeeded."""
    return {
        record.dagster_event.step_key or ""
        for record in instance.all_logs(run_id)
        if record.dagster_event is not None
        and record.dagster_event.event_type_value == "STEP_SUCCESS"
    }


def output_metadata(instance: DagsterInstance, run_id: str, step_key: str) -> dict[str, Any]:
    """The output metadata one step of the run reported."""
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if (
            event is not None
            and event.step_key == step_key
            and event.event_type_value == "STEP_OUTPUT"
        ):
            data = event.event_specific_data
            return {k: v.value for k, v in data.metadata.items()}  # type: ignore[union-attr]
    raise AssertionError(f"no output from {step_key} in run {run_id}")


def wait_for(check: Any, what: str, timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what} not seen within {timeout:.0f} s"
        time.sleep(0.1)


def collection_contents(port: int, database: str, name: str) -> dict[str, tuple[Any, Any]]:
    """Chunk id -> (document, metadata) of a collection on the Chroma server at ``port``."""
    client = chromadb.HttpClient(
        host="127.0.0.1",
        port=port,
        database=database,
        settings=chromadb.Settings(anonymized_telemetry=False),
    )
    rows = client.get_collection(name).get(include=["documents", "metadatas"])
    documents, metadatas = rows["documents"] or [], rows["metadatas"] or []
    return {
        cid: (doc, dict(meta))
        for cid, doc, meta in zip(rows["ids"], documents, metadatas, strict=True)
    }
