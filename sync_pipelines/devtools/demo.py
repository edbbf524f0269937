"""The demo: the whole stack on this machine, one source of each type synced over HTTP, queries.

``run_demo`` starts what ``chroma-sync serve --with-s3`` starts (API bridge, Dagster code server,
daemon and webserver, SeaweedFS) in a fresh demo home, plus a git daemon and a docs website on
127.0.0.1. Through the HTTP API it creates a GitHub, an S3 and a web source, invokes each,
waits until every invocation is ``complete``, asks each collection a question, then stops
everything it started.
"""

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sync_pipelines.catalog import Catalog
from sync_pipelines.client.http import TERMINAL_STATUSES, SyncClient, status_word
from sync_pipelines.client.query import run_query
from sync_pipelines.devtools.demo_sources import (
    DEMO_DATABASE,
    DemoSource,
    github_source,
    s3_source,
    web_source,
)
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.ports import free_port, free_port_block
from sync_pipelines.devtools.proctree import descendants
from sync_pipelines.devtools.web_site import LocalWebSite
from sync_pipelines.serve import ServeError, ServeOptions, Services
from sync_pipelines.settings import Settings, get_settings

Echo = Callable[[str], None]
DEFAULT_HOME = Path("~/.chroma-sync-demo")
MARKER = ".chroma-sync-demo"
READY_TIMEOUT_S = 180.0
SYNC_TIMEOUT_S = 300.0
POLL_S = 0.5
# Settings that would point the demo's stack at storage outside the demo home.
_REDIRECTING = (
    "CHROMA_SYNC_CATALOG_URL",
    "CHROMA_SYNC_CHROMA_MODE",
    "CHROMA_SYNC_CHROMA_PATH",
    "CHROMA_SYNC_UPLOADS_DIR",
    "CHROMA_SYNC_S3_ENDPOINT_URL",
    "CHROMA_SYNC_DAGSTER_URL",
    "DAGSTER_HOME",
)


class DemoError(Exception):
    """The demo cannot go on; ``str()`` is the one line shown to the user."""


@dataclass
class Pending:
    """An invocation the demo waits for."""

    source: DemoSource
    label: str
    invocation_id: str
    created: float


def prepare_home(home: Path) -> Path:
    """Empty ``home`` (only if it is a previous demo home, or empty) and mark it as one.

    Raises:
        DemoError: ``home`` holds something that is not a demo home.
    """
    home = home.expanduser().resolve()
    if home.exists():
        if not home.is_dir() or (any(home.iterdir()) and not (home / MARKER).exists()):
            raise DemoError(f"{home} exists and is not a demo home; choose another --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("chroma-sync demo home: emptied by every demo run\n")
    return home


@contextlib.contextmanager
def demo_environment(home: Path, model_dir: Path) -> Iterator[Settings]:
    """Point ``CHROMA_SYNC_*`` at the demo home (restored on exit); yield its settings."""
    saved = dict(os.environ)
    for name in _REDIRECTING:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "CHROMA_SYNC_HOME": str(home),
            "CHROMA_SYNC_MODEL_DIR": str(model_dir),
            "CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS": '["127.0.0.1"]',
            # Starting a run waits for its worker to import the code: minutes on a busy box.
            "DAGSTER_GRPC_TIMEOUT_SECONDS": os.environ.get("DAGSTER_GRPC_TIMEOUT_SECONDS", "300"),
        }
    )
    get_settings.cache_clear()
    try:
        yield Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


@contextlib.contextmanager
def running_stack(home: Path, echo: Echo) -> Iterator[Services]:
    """Start the stack on free ports and wait until it is healthy; stop it all on exit."""
    options = ServeOptions(
        home=home,
        api_port=free_port(),
        dagster_port=free_port(),
        with_s3=True,
        s3_port=free_port_block(1)[0],
        ready_timeout_s=READY_TIMEOUT_S,
        chroma_port=free_port(),
    )
    services = Services(options)
    started = time.monotonic()
    try:
        services.check_ports()
        services.start()
        try:
            services.wait_until_healthy(threading.Event())
        except ServeError as exc:
            raise DemoError(f"the stack did not come up: {exc}") from exc
        s3_url = services.s3.endpoint_url if services.s3 else "-"
        echo(
            f"stack up in {time.monotonic() - started:.1f} s: API {services.api_url}, "
            f"Dagster UI {services.webserver_url}, S3 {s3_url}"
        )
        yield services
    finally:
        if services.started_anything():
            stopping = time.monotonic()
            services.stop()
            echo(f"stack stopped in {time.monotonic() - stopping:.1f} s")


def _chunks(job: dict[str, object]) -> str:
    progress = job.get("progress")
    if isinstance(progress, dict) and isinstance(progress.get("chunks_written"), int):
        return f" ({progress['chunks_written']} chunks written)"
    return ""


def wait_all(client: SyncClient, pending: list[Pending], echo: Echo, timeout: float) -> None:
    """Poll every invocation until it is ``complete``; print one line as each completes.

    Raises:
        DemoError: One failed or was cancelled, or they were not all done within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    left = list(pending)
    while left:
        for item in list(left):
            job = client.get_invocation(item.invocation_id)
            word = status_word(job)
            if word not in TERMINAL_STATUSES:
                continue
            left.remove(item)
            name = f"[{item.source.kind}] invocation {item.invocation_id} ({item.label})"
            if word != "complete":
                status = job.get("status")
                detail = (
                    status.get("failed", {}).get("error", "") if isinstance(status, dict) else ""
                )
                raise DemoError(f"{name} {word}" + (f": {detail}" if detail else ""))
            elapsed = time.monotonic() - item.created
            echo(f"{name} complete in {elapsed:.1f} s{_chunks(job)}")
        if left and time.monotonic() > deadline:
            item = left[0]
            job = client.get_invocation(item.invocation_id)
            raise DemoError(
                f"[{item.source.kind}] invocation {item.invocation_id} ({item.label}) still "
                f"{status_word(job)} after {timeout:.0f} s"
            )
        if left:
            time.sleep(POLL_S)


def show_answers(
    settings: Settings, sources: list[DemoSource], query: str | None, echo: Echo
) -> None:
    """Print the best match of each collection for its question (or ``query``).

    Raises:
        DemoError: A collection is empty.
    """
    for source in sources:
        question = query or source.question
        hits = run_query(settings, DEMO_DATABASE, source.collection, question, 1)
        if not hits:
            raise DemoError(f"[{source.kind}] collection {source.collection} is empty")
        hit = hits[0]
        meta = hit.metadata
        lines = f" lines {meta['start_line']}-{meta['end_line']}" if "start_line" in meta else ""
        snippet = " ".join(hit.document.split())[:90]
        echo(
            f'[{source.kind}] query "{question}" -> {source.collection}: {hit.document_key}'
            f"{lines} (distance {hit.distance:.3f}): {snippet}"
        )


def _sync(
    services: Services, settings: Settings, home: Path, query: str | None, echo: Echo
) -> None:
    catalog = Catalog(settings.resolved_catalog_url)
    try:
        _, secret = catalog.create_token(DEMO_DATABASE, admin=True, label="demo")
    finally:
        catalog.close()
    echo(f"API token created for database {DEMO_DATABASE!r} (admin)")
    if services.s3 is None:
        raise DemoError("the stack runs no S3 server")
    (home / "git").mkdir()
    with (
        GitDaemon(home / "git") as daemon,
        LocalWebSite() as site,
        contextlib.closing(SyncClient(services.api_url, secret)) as client,
    ):
        sources = [github_source(home / "git", daemon), s3_source(services.s3), web_source(site)]
        pending: list[Pending] = []
        for source in sources:
            source_id = client.create_source(source.body)
            echo(f"[{source.kind}] source {source_id} -> collection {source.collection}")
            for label, body in source.invocations:
                created = time.monotonic()
                invocation_id = client.create_invocation(source_id, body)
                pending.append(Pending(source, label, invocation_id, created))
        echo(f"waiting for {len(pending)} invocations (GET /api/v1/invocations/{{id}}) ...")
        threading.Thread(target=_import_query_modules, daemon=True).start()
        wait_all(client, pending, echo, SYNC_TIMEOUT_S)
    asking = time.monotonic()
    show_answers(settings, sources, query, echo)
    echo(f"queries answered in {time.monotonic() - asking:.1f} s")


def _import_query_modules() -> None:
    # Seconds of imports the queries need; done while the runs go, not after.
    import chromadb  # noqa: F401
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise DemoError("stopped by SIGTERM")


def run_demo(settings: Settings, query: str | None, echo: Echo, home: Path | None = None) -> int:
    """Run the demo in ``home`` (default ``~/.chroma-sync-demo``, emptied first).

    Args:
        settings: This process's settings (only the embedding model folder is used).
        query: Asked of every collection; None asks each its own question.
        echo: Prints one line.
        home: The demo home.

    Returns:
        0 when every invocation completed and every collection answered; 1 otherwise (after
        one ``demo failed: ...`` line).
    """
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    demo_home: Path | None = None
    try:
        demo_home = prepare_home(home or DEFAULT_HOME)
        echo(f"demo home {demo_home} (emptied on every run)")
        with (
            demo_environment(demo_home, settings.resolved_model_dir) as demo_settings,
            running_stack(demo_home, echo) as services,
        ):
            _sync(services, demo_settings, demo_home, query, echo)
        left = descendants(os.getpid())
        if left:
            raise DemoError(f"processes still running after the stop: {sorted(left)}")
    except (KeyboardInterrupt, Exception) as exc:  # one last line, never a traceback
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        if not isinstance(exc, (DemoError, KeyboardInterrupt)):
            reason = f"{type(exc).__name__}: {exc}"
        logs = f" (logs in {demo_home}/logs and {demo_home}/dagster)"
        echo(
            f"demo failed: {reason}" + (logs if demo_home and (demo_home / "logs").exists() else "")
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    echo(
        f"demo ok: github, s3 and web sources synced through the HTTP API and queried "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0
