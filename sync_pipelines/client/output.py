"""Printing for the client commands: JSON, aligned tables, one-line errors, common options."""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from sync_pipelines.client.http import DEFAULT_URL, ClientError, Json, SyncClient, status_word

UrlOption = Annotated[
    str, typer.Option("--url", envvar="CHROMA_SYNC_URL", help="Base URL of the Sync API.")
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
DEFAULT = DEFAULT_URL


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def connect(url: str, token: str | None) -> Iterator[SyncClient]:
    """A client for ``url``; any :class:`ClientError` becomes one stderr line and exit 1."""
    if not token:
        raise fail("no API token: set CHROMA_SYNC_TOKEN or pass --token")
    client = SyncClient(url, token)
    try:
        yield client
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


def print_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> None:
    """Print ``rows`` as left-aligned columns under ``headers``."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for line in (headers, *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


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


def status_text(job: Json) -> str:
    """A job's status as one short phrase (``complete in 2.3 s``, ``failed: <error>``)."""
    word = status_word(job)
    status = job.get("status")
    if word == "complete" and isinstance(status, dict):
        duration = status["complete"].get("duration_ms")
        return f"complete in {duration / 1000:.1f} s" if duration is not None else word
    if word == "failed" and isinstance(status, dict):
        return f"failed: {status['failed'].get('error', '')}"
    return word


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
