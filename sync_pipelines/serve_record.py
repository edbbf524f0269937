"""``<home>/serve.json``: where the ``chroma-sync serve`` running on a home answers.

``serve`` writes the file once its stack is healthy (the API, Dagster UI, Chroma and S3 URLs and
its own pid) and removes it when it stops. Client commands read it to find the API when neither
``--url`` nor ``CHROMA_SYNC_URL`` is given. A file whose process is gone (``serve`` was killed)
is stale: :func:`live_record` ignores it, and the next ``serve`` on the home replaces it.
"""

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from sync_pipelines.core.run_liveness import process_alive

SERVE_FILE: Final = "serve.json"


@dataclass(frozen=True)
class ServeRecord:
    """What one running ``serve`` records in its home.

    Attributes:
        api_url: Base URL of the Sync API.
        ui_url: URL of the Dagster UI.
        pid: Process id of ``serve``.
        started_at: When the record was written (epoch s), to tell a reused pid apart.
        chroma_url: URL of the Chroma server ``serve`` runs, if any.
        s3_endpoint: Endpoint of the local S3 server (``--with-s3``), if any.
    """

    api_url: str
    ui_url: str
    pid: int
    started_at: float
    chroma_url: str | None = None
    s3_endpoint: str | None = None

    @classmethod
    def now(
        cls, api_url: str, ui_url: str, chroma_url: str | None, s3_endpoint: str | None
    ) -> "ServeRecord":
        """The record of this process, written now."""
        return cls(api_url, ui_url, os.getpid(), time.time(), chroma_url, s3_endpoint)

    def alive(self) -> bool:
        """Whether the ``serve`` process that wrote the record still runs."""
        return process_alive(self.pid, self.started_at)


def record_path(home: Path) -> Path:
    """The ``serve.json`` of ``home``."""
    return home / SERVE_FILE


def write_record(home: Path, record: ServeRecord) -> Path:
    """Write ``record`` to ``<home>/serve.json`` atomically; return the file."""
    path = record_path(home)
    partial = path.with_name(f".{SERVE_FILE}.{os.getpid()}")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n")
    partial.replace(path)
    return path


def read_record(home: Path) -> ServeRecord | None:
    """The record in ``<home>/serve.json``, live or stale; None when absent or unreadable."""
    try:
        data = json.loads(record_path(home).read_text())
        return ServeRecord(
            api_url=str(data["api_url"]),
            ui_url=str(data["ui_url"]),
            pid=int(data["pid"]),
            started_at=float(data["started_at"]),
            chroma_url=data.get("chroma_url"),
            s3_endpoint=data.get("s3_endpoint"),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def live_record(home: Path) -> ServeRecord | None:
    """The record of the ``serve`` running on ``home``; None when none runs (or it is stale)."""
    record = read_record(home)
    return record if record is not None and record.alive() else None


def remove_record(home: Path, pid: int) -> None:
    """Remove ``<home>/serve.json`` if process ``pid`` wrote it (another serve's stays)."""
    record = read_record(home)
    if record is not None and record.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            record_path(home).unlink()
