"""The Celery app that ``chroma-sync worker`` runs.

dagster-celery's step task, configured from chroma-sync's settings (the same broker, backend
and Celery settings as the executor).

``celery -A sync_pipelines.celery_worker worker -Q dagster`` starts the same worker by hand.
"""

import os
import socket
from collections.abc import Sequence
from typing import Any

from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from sync_pipelines.scale_out import (
    CELERY_INCLUDE,
    CELERY_QUEUE,
    DEFAULT_BACKEND,
    celery_config,
    check_worker_settings,
)
from sync_pipelines.settings import get_settings


def _make_app() -> Any:
    settings = get_settings()
    check_worker_settings(settings)
    return make_app(  # type: ignore[no-untyped-call]
        {
            "broker": settings.celery_broker_url,
            "backend": settings.celery_backend_url or DEFAULT_BACKEND,
            "include": CELERY_INCLUDE,
            "config_source": dict_wrapper(  # type: ignore[no-untyped-call]
                {**DEFAULT_CONFIG, **celery_config()}
            ),
        }
    )


app = _make_app()
execute_plan = create_task(app)  # type: ignore[no-untyped-call]


def run_worker(name: str | None, concurrency: int, extra: Sequence[str] = ()) -> None:
    """Consume steps from the ``dagster`` queue until stopped (Celery's own worker loop).

    Args:
        name: Worker name (default the host name); steps it runs report it.
        concurrency: Steps run at once (prefork processes).
        extra: Further ``celery worker`` arguments.
    """
    node = name or socket.gethostname()
    os.environ["CHROMA_SYNC_WORKER_NAME"] = node
    app.worker_main(
        [
            "worker",
            "-Q",
            CELERY_QUEUE,
            "-n",
            f"{node}@%h",
            "-c",
            str(concurrency),
            "--prefetch-multiplier=1",
            "--loglevel=INFO",
            *extra,
        ]
    )
