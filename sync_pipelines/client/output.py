"""Printing for the client commands: JSON, aligned tables, one-line errors, common options."""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from sync_pipelines.client.flags import in_flags
from sync_pipelines.client.home import server_url
from sync_pipelines.client.http import (
    ApiError,
    ClientError,
    Json,
    SyncClient,
    status_word,
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="CHROMA_SYNC_URL",
        show_default=False,
        help="Base URL of the Sync API (default: the one `chroma-sync serve` running on the "
        "home records in <home>/serve.json).",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CHROMA_SYNC_TOKEN",
        help="API token sent as x-chroma-token (prefer the environment variable).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the raw JSON result instead of a table.")
]
#: ``--url``'s default: none, the home's running ``serve`` is asked (see ``client/home.py``).
DEFAULT: str | None = None


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def connect(
    url: str | None, token: str | None, flags: Mapping[str, str] | None = None
) -> Iterator[SyncClient]:
    """A client for ``url``; any :class:`ClientError` becomes one stderr line and exit 1.

    Args:
        url: The API's base URL; None asks the home's running ``serve`` (``serve.json``).
        token: The API token.
        flags: Body fields and the command's flags that set them: an API error naming such a
            field names the flag instead (:func:`~sync_pipelines.client.flags.in_flags`).
    """
    if not token:
        raise fail("no API token: set CHROMA_SYNC_TOKEN or pass --token")
    client = SyncClient(server_url(url), token)
    try:
        yield client
    except ApiError as exc:
        message = in_flags(exc.message, flags) if flags else exc.message
        raise fail(f"{message} (HTTP {exc.status})") from None
    except ClientError as exc:
        raise fail(str(exc)) from None
    finally:
        client.close()


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    typer.echo(json.dumps(value, indent=2, sort_keys=False))


def report(as_json: bool, body: Json, message: str) -> None:
    """Print the outcome of a command: ``body`` as JSON with ``--json``, else ``message``."""
    if as_json:
        print_json(body)
    else:
        typer.echo(message)


TABLE_WIDTH = 100
"""Columns a table may take: tables fit a 100-column terminal."""


def print_table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    shrink: Sequence[int] = (),
    notes: Sequence[str | None] = (),
) -> None:
    """Print ``rows`` as left-aligned columns under ``headers``.

    Args:
        rows: The cells.
        headers: The column titles.
        shrink: Columns that may be cut (keeping their end, after ``…``) so the table fits
            :data:`TABLE_WIDTH`; the widest is cut first.
        notes: One optional line per row, printed indented under it (an error, say), cut to
            the table width.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    while shrink and sum(widths) + 2 * (len(widths) - 1) > TABLE_WIDTH:
        widest = max(shrink, key=lambda i: widths[i])
        if widths[widest] <= max(len(headers[widest]), 8):
            break
        widths[widest] -= 1
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for index, row in enumerate(rows):
        cells = [_fit(cell, w) for cell, w in zip(row, widths, strict=True)]
        typer.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        note = notes[index] if index < len(notes) else None
        if note:
            typer.echo(_fit_end(f"  {note}", TABLE_WIDTH))


def _fit(cell: str, width: int) -> str:
    """``cell`` cut to ``width`` characters, keeping its end (``…rest``)."""
    return cell if len(cell) <= width else "…" + cell[len(cell) - width + 1 :]


def _fit_end(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, keeping its start (``start…``)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def source_type(source: Json) -> str:
    """The type key of a ``Source`` (``github``, ``web_scrape``, ``s3``, ``file_upload``)."""
    return next((k for k in ("github", "web_scrape", "s3", "file_upload") if k in source), "?")


def source_target(source: Json) -> str:
    """What a source reads from: the repository, starting URL or bucket/prefix."""
    kind = source_type(source)
    config: Json = source.get(kind) or {}
    if kind == "github":
        return str(config.get("repository", ""))
    if kind == "web_scrape":
        return str(config.get("starting_url", ""))
    if kind == "s3":
        return f"s3://{config.get('bucket_name', '')}/{config.get('path_prefix') or ''}"
    return ""


def duration_s(job: Json) -> float | None:
    """The server's duration of a completed job, in seconds (``None`` otherwise)."""
    status = job.get("status")
    if status_word(job) == "complete" and isinstance(status, dict):
        duration = status["complete"].get("duration_ms")
        return duration / 1000 if isinstance(duration, int | float) else None
    return None


def job_error(job: Json) -> str | None:
    """A failed job's error text."""
    status = job.get("status")
    if status_word(job) == "failed" and isinstance(status, dict):
        return str(status["failed"].get("error", ""))
    return None


def status_text(job: Json, *, with_error: bool = True) -> str:
    """A job's status as one short phrase (``complete in 2.3 s``, ``failed: <error>``).

    The duration is always the server's, so every command shows the same figure.
    """
    duration = duration_s(job)
    if duration is not None:
        return f"complete in {duration:.1f} s"
    error = job_error(job)
    if error is not None and with_error:
        return f"failed: {error}"
    return status_word(job)


def job_target(job: Json) -> str:
    """What an invocation syncs: the object key, git ref or starting URL, when known."""
    meta: Json = job.get("metadata") or {}
    if isinstance(meta.get("s3"), dict):
        return str(meta["s3"].get("object_key") or "")
    if isinstance(meta.get("github"), dict):
        ref = meta["github"].get("git_ref_identifier") or {}
        return ", ".join(f"{k} {v}" for k, v in ref.items())
    if isinstance(meta.get("web_scrape"), dict):
        return str(meta["web_scrape"].get("starting_url") or "")
    if isinstance(meta.get("file_upload"), dict):
        return str(meta["file_upload"].get("filename") or "")
    return ""


def print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Print ``name: value`` lines, values that are objects as compact JSON."""
    width = max((len(name) for name, _ in pairs), default=0)
    for name, value in pairs:
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        typer.echo(f"{name.ljust(width)}  {shown}")
