"""Settings for spreading syncs over many workers (part of ``Settings``)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from sync_pipelines.core.shards import DEFAULT_SHARD_BYTES, DEFAULT_SHARD_FILES


class ScaleOutSettings(BaseSettings):
    """Shard sizes, the executor that runs the steps and where steps hand data to each other."""

    shard_max_files: int = Field(
        default=DEFAULT_SHARD_FILES,
        ge=1,
        description=(
            "A GitHub sync with more changed files than this is split into shards of at most "
            "this many files, each synced by its own step; smaller syncs take one step."
        ),
    )
    shard_max_bytes: int = Field(
        default=DEFAULT_SHARD_BYTES, ge=1, description="Most blob bytes one shard reads."
    )
    executor: Literal["in_process", "celery"] = Field(
        default="in_process",
        description=(
            "What runs a run's steps: 'in_process' (the run's own process) or 'celery' (Celery "
            "workers started with `chroma-sync worker`; needs celery_broker_url and "
            "step_storage)."
        ),
    )
    celery_broker_url: str | None = Field(
        default=None,
        description="Celery broker, e.g. amqp://user@rabbit:5672// (read by name, never logged).",
    )
    celery_backend_url: str | None = Field(
        default=None,
        description="Celery result backend, e.g. redis://redis:6379/0; default: the broker (rpc://).",
    )
    step_storage: str | None = Field(
        default=None,
        description=(
            "Where steps hand their outputs to each other: s3://bucket/prefix (through the "
            "server's S3 endpoint and credentials) or a folder every worker mounts; default a "
            "folder under DAGSTER_HOME, which only one machine can read."
        ),
    )
