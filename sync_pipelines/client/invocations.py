"""``chroma-sync invocations list|get|cancel|watch`` and the live progress line of ``watch``.

``watch`` polls the invocation until it is ``complete``, ``failed`` or ``cancelled``; the exit
code is 0 for ``complete`` and 1 otherwise. The progress line goes to stderr (rewritten in
place on a terminal, one line per change otherwise), the final result to stdout.
"""

import sys
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from sync_pipelines.client.http import TERMINAL_STATUSES, Json, SyncClient, status_word
from sync_pipelines.client.output import (
    DEFAULT,
    JsonOption,
    TokenOption,
    UrlOption,
    connect,
    duration_s,
    job_error,
    job_target,
    print_fields,
    print_json,
    print_table,
    report,
    status_text,
)

invocations_app = typer.Typer(
    help="List, show, cancel and watch invocations (syncs).", no_args_is_help=True
)


class StatusChoice(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _elapsed(job: Json, started: float) -> float:
    """Seconds since the invocation was created; once complete, the server's duration."""
    finished = duration_s(job)
    if finished is not None:
        return finished
    try:
        created = datetime.fromisoformat(str(job["created_at"]).replace("Z", "+00:00"))
        return max(0.0, (datetime.now(UTC) - created).total_seconds())
    except (KeyError, ValueError, TypeError):
        return time.monotonic() - started


def progress_text(job: Json) -> str:
    """Summarise the ``progress`` extension of a job body, e.g. ``pages 7/12, 30 chunks written``.

    The object is ``{"unit", "done", "total", "chunks_written", "skipped", "failed"}``;
    missing or malformed fields are left out.
    """
    progress: Any = job.get("progress")
    if not isinstance(progress, dict):
        return ""
    parts: list[str] = []
    unit, done, total = progress.get("unit"), progress.get("done"), progress.get("total")
    if isinstance(unit, str) and isinstance(done, int):
        parts.append(f"{unit} {done}/{total}" if isinstance(total, int) else f"{unit} {done}")
    if isinstance(progress.get("chunks_written"), int):
        parts.append(f"{progress['chunks_written']} chunks written")
    for key in ("skipped", "failed"):
        if isinstance(progress.get(key), int) and progress[key]:
            parts.append(f"{progress[key]} {key}")
    return ", ".join(parts)


def progress_line(job: Json, elapsed: float) -> str:
    """The live line: short id, status, elapsed seconds and any progress."""
    line = f"{str(job.get('id', ''))[:8]}  {status_word(job):<10}  {elapsed:6.1f} s"
    extra = progress_text(job)
    return f"{line}  {extra}" if extra else line


def watch_until_done(
    client: SyncClient, invocation_id: str, *, as_json: bool, interval: float = 0.5
) -> int:
    """Poll until the invocation ends, showing progress on stderr; print the outcome.

    Returns:
        0 when it completed, 1 when it failed or was cancelled.
    """
    live = sys.stderr.isatty()
    started = time.monotonic()
    shown: tuple[str, str] | None = None
    while True:
        job = client.get_invocation(invocation_id)
        word = status_word(job)
        line = progress_line(job, _elapsed(job, started))
        if live:
            typer.echo(f"\r\x1b[2K{line}", err=True, nl=False)
        elif shown != (word, progress_text(job)):
            typer.echo(line, err=True)
        shown = (word, progress_text(job))
        if word in TERMINAL_STATUSES:
            break
        time.sleep(interval)
    if live:
        typer.echo("", err=True)
    if as_json:
        print_json(job)
    else:
        typer.echo(f"invocation {invocation_id} {status_text(job)}")
    return 0 if word == "complete" else 1


@invocations_app.command("list")
def list_invocations(
    source: Annotated[str | None, typer.Option(help="Only this source's invocations.")] = None,
    status: Annotated[StatusChoice | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(help="Most invocations shown.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many first.")] = 0,
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List invocations of the token's database (or of one source), newest first."""
    with connect(url, token) as client:
        jobs = client.list_invocations(
            source_id=source, status=status.value if status else None, limit=limit, offset=offset
        )
    if as_json:
        print_json(jobs)
        return
    rows = [
        [
            str(job["id"]),
            status_text(job, with_error=False),
            chunks_text(job),
            str((job.get("metadata") or {}).get("collection_name", "")),
            job_target(job),
            _short_time(job.get("created_at")),
        ]
        for job in jobs
    ]
    notes = [f"error: {job_error(job)}" if job_error(job) is not None else None for job in jobs]
    print_table(
        rows,
        ["ID", "STATUS", "CHUNKS", "COLLECTION", "TARGET", "CREATED"],
        shrink=(3, 4),
        notes=notes,
    )


def chunks_text(job: Json) -> str:
    """Chunks the invocation wrote so far (``-`` when it reported none)."""
    progress: Any = job.get("progress")
    written = progress.get("chunks_written") if isinstance(progress, dict) else None
    return str(written) if isinstance(written, int) else "-"


def _short_time(value: Any) -> str:
    """``2026-12-06T06:30:12.123Z`` as ``12-06 06:30`` (UTC, as the server stores it)."""
    text = str(value or "")
    return f"{text[5:10]} {text[11:16]}" if len(text) >= 16 and text[10] == "T" else text


@invocations_app.command("get")
def get_invocation(
    invocation_id: Annotated[str, typer.Argument(help="Invocation id.")],
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one invocation."""
    with connect(url, token) as client:
        job = client.get_invocation(invocation_id)
    if as_json:
        print_json(job)
        return
    meta: Json = job.get("metadata") or {}
    pairs: list[tuple[str, Any]] = [
        ("id", job["id"]),
        ("status", status_text(job, with_error=False)),
        ("source", job.get("source_id") or "-"),
        ("database", meta.get("database_name", "")),
        ("collection", meta.get("collection_name", "")),
        ("target", job_target(job)),
        ("created", job.get("created_at", "")),
    ]
    if progress_text(job):
        pairs.append(("progress", progress_text(job)))
    if job_error(job) is not None:
        pairs.append(("error", job_error(job)))
    print_fields(pairs)


@invocations_app.command("cancel")
def cancel_invocation(
    invocation_id: Annotated[str, typer.Argument(help="Invocation id.")],
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a pending invocation (an error once it is processing or finished)."""
    with connect(url, token) as client:
        client.cancel_invocation(invocation_id)
    report(
        as_json,
        {"invocation_id": invocation_id, "cancelled": True},
        f"invocation {invocation_id} cancelled",
    )


@invocations_app.command("watch")
def watch_invocation(
    invocation_id: Annotated[str, typer.Argument(help="Invocation id.")],
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=0.1)] = 0.5,
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Follow an invocation until it ends; exit 0 when complete, 1 when failed or cancelled."""
    with connect(url, token) as client:
        code = watch_until_done(client, invocation_id, as_json=as_json, interval=interval)
    raise typer.Exit(code)
