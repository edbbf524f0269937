"""The executor that runs a run's steps and the storage steps hand their outputs through.

One machine: every step runs in its run's own process (``in_process``) and outputs go to a
folder under ``DAGSTER_HOME``. Beyond one machine: ``CHROMA_SYNC_EXECUTOR=celery`` sends each
step to a Celery worker (``chroma-sync worker``) through the broker, and
``CHROMA_SYNC_STEP_STORAGE`` names storage every worker reads (``s3://bucket/prefix`` or a
shared folder). Broker and backend URLs may hold passwords, so the executor reads them from the
environment by name; they never appear in run config.
"""

import os
import socket
from typing import Any

import dagster as dg

from sync_pipelines.settings import Settings

CELERY_QUEUE = "dagster"
"""The queue dagster-celery sends steps to, and that workers consume."""
CELERY_INCLUDE = ["sync_pipelines.definitions"]
"""Modules every worker imports (the code location)."""
DEFAULT_BACKEND = "rpc://"
"""Result backend when none is set: results come back through the broker."""


def worker_name() -> str:
    """Name the process running a step, with its process id.

    The name is ``CHROMA_SYNC_WORKER_NAME`` (set by ``chroma-sync worker``) or the host name.
    """
    name = os.environ.get("CHROMA_SYNC_WORKER_NAME") or socket.gethostname()
    return f"{name}/{os.getpid()}"


def celery_config() -> dict[str, Any]:
    """Celery settings shared by the executor and the workers.

    A step is acknowledged only once it finished (``task_acks_late``), and a worker that dies
    mid-step gives its task back (``task_reject_on_worker_lost``), so the broker re-delivers it
    to another worker; each worker reserves one task at a time, so a dead worker holds no queue.
    """
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "result_expires": 24 * 3600,
    }


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor ``settings`` select for every job.

    Raises:
        ValueError: ``celery`` without a broker URL or without shared step storage.
    """
    if settings.executor == "in_process":
        return dg.in_process_executor
    if not settings.celery_broker_url:
        raise ValueError("CHROMA_SYNC_EXECUTOR=celery needs CHROMA_SYNC_CELERY_BROKER_URL")
    if not settings.step_storage:
        raise ValueError(
            "CHROMA_SYNC_EXECUTOR=celery needs CHROMA_SYNC_STEP_STORAGE (s3://bucket/prefix or "
            "a folder every worker mounts): steps on other machines cannot read this one's disk"
        )
    from dagster_celery import celery_executor

    backend: Any = DEFAULT_BACKEND
    if settings.celery_backend_url:
        backend = {"env": "CHROMA_SYNC_CELERY_BACKEND_URL"}
    return celery_executor.configured(
        {
            "broker": {"env": "CHROMA_SYNC_CELERY_BROKER_URL"},
            "backend": backend,
            "include": CELERY_INCLUDE,
            "config_source": celery_config(),
        },
        name="chroma_sync_celery",
    )


def check_worker_settings(settings: Settings) -> None:
    """Refuse to start a Celery worker whose settings could not run the steps it would take.

    A worker rebuilds each job from its own settings: without the executor, the broker and the
    shared step storage it would read and write step outputs where no other process looks.

    Raises:
        ValueError: Naming the missing setting.
    """
    if settings.executor != "celery":
        raise ValueError(
            "a worker needs CHROMA_SYNC_EXECUTOR=celery (and the same CHROMA_SYNC_* settings as "
            "the code server)"
        )
    build_executor(settings)


def build_io_manager(settings: Settings) -> Any:
    """The IO manager steps hand outputs through (``None``: Dagster's default folder)."""
    storage = settings.step_storage
    if not storage:
        return None
    if storage.startswith("s3://"):
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        bucket, _, prefix = storage.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"CHROMA_SYNC_STEP_STORAGE {storage!r} names no bucket")
        return S3PickleIOManager(
            s3_resource=S3Resource(
                endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region
            ),
            s3_bucket=bucket,
            s3_prefix=prefix.strip("/") or "chroma-sync-steps",
        )
    return dg.FilesystemIOManager(base_dir=storage)
