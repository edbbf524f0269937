"""``chroma-sync sources ...`` and ``chroma-sync invoke``: daily work over the HTTP API.

The commands talk to a running server (``--url`` / ``CHROMA_SYNC_URL``, else the one
``chroma-sync serve`` records in the home's ``serve.json``: see ``client/home.py``) with an API
token (``--token`` / ``CHROMA_SYNC_TOKEN``, never printed); ``--json`` prints the raw JSON result.
:func:`register` adds them, ``invocations ...`` and ``query`` to the ``chroma-sync`` app.
"""

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sync_pipelines.client.bodies import (
    SourceFlags,
    UsageError,
    invocation_body,
    raw_body,
    source_body,
)
from sync_pipelines.client.flags import INVOKE_FLAGS, SOURCE_FLAGS
from sync_pipelines.client.invocations import invocations_app, watch_until_done
from sync_pipelines.client.output import (
    DEFAULT,
    JsonOption,
    TokenOption,
    UrlOption,
    connect,
    fail,
    print_fields,
    print_json,
    print_table,
    report,
    source_target,
    source_type,
)
from sync_pipelines.client.query import query

sources_app = typer.Typer(
    help="Create (admin token), list, show and delete (admin token) sources.",
    no_args_is_help=True,
)


class AutoSyncMode(StrEnum):
    NONE = "none"
    DIRECT = "direct"
    METADATA = "metadata"


class SourceTypeChoice(StrEnum):
    GITHUB = "github"
    WEB_SCRAPE = "web_scrape"
    S3 = "s3"


def _read_body(origin: str) -> str:
    if origin == "-":
        return sys.stdin.read()
    try:
        return Path(origin).read_text()
    except OSError as exc:
        raise fail(f"--body {origin}: {exc.strerror}") from None


@sources_app.command("create")
def create_source(
    database: Annotated[
        str | None,
        typer.Option(envvar="CHROMA_SYNC_DATABASE", help="The source's database (the token's)."),
    ] = None,
    github: Annotated[str | None, typer.Option(help="GitHub repository owner/repo.")] = None,
    s3_bucket: Annotated[str | None, typer.Option(help="S3 bucket name.")] = None,
    web: Annotated[str | None, typer.Option(help="Website starting URL.")] = None,
    region: Annotated[str, typer.Option(help="S3: bucket region.")] = "us-east-1",
    collection: Annotated[str | None, typer.Option(help="S3: target collection.")] = None,
    prefix: Annotated[str | None, typer.Option(help="S3: only keys under this prefix.")] = None,
    auto_sync: Annotated[AutoSyncMode | None, typer.Option(help="S3: auto-sync mode.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="S3: endpoint of an S3-compatible store.")
    ] = None,
    aws_access_key_id: Annotated[str | None, typer.Option(help="S3: inline access key.")] = None,
    aws_secret_access_key: Annotated[
        str | None,
        typer.Option(help="S3: inline secret key (or use --body - to keep it off argv)."),
    ] = None,
    aws_credential_id: Annotated[int | None, typer.Option(help="S3: stored credential id.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Web: link depth limit.")] = None,
    page_limit: Annotated[int | None, typer.Option(help="Web: most pages crawled.")] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(help="Web: path regex to include; GitHub: glob to include. Repeatable."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Web: path regex to exclude; GitHub: glob to exclude. Repeatable."),
    ] = None,
    chunking: Annotated[
        str | None,
        typer.Option(help="tree_sitter[:MAX_BYTES], lines[:MAX_LINES[:MAX_BYTES]] or JSON."),
    ] = None,
    body: Annotated[
        str | None, typer.Option(help="Raw create-source JSON from FILE, or - for stdin.")
    ] = None,
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a source (admin token) and print its id."""
    flags = SourceFlags(
        database=database,
        github=github,
        s3_bucket=s3_bucket,
        web=web,
        region=region,
        collection=collection,
        prefix=prefix,
        auto_sync=auto_sync.value if auto_sync else None,
        endpoint_url=endpoint_url,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_credential_id=aws_credential_id,
        max_depth=max_depth,
        page_limit=page_limit,
        include=include or [],
        exclude=exclude or [],
        chunking=chunking,
    )
    try:
        if body is not None:
            if github or s3_bucket or web:
                raise UsageError("--body cannot be combined with --github, --s3-bucket or --web")
            payload = raw_body(_read_body(body), database, body)
        else:
            payload = source_body(flags)
    except UsageError as exc:
        raise fail(str(exc)) from None
    with connect(url, token, flags=None if body is not None else SOURCE_FLAGS) as client:
        source_id = client.create_source(payload)
    report(as_json, {"source_id": source_id}, f"source {source_id} created")


@sources_app.command("list")
def list_sources(
    source_type_filter: Annotated[
        SourceTypeChoice | None, typer.Option("--type", help="Only sources of this type.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Most sources shown.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many first.")] = 0,
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the token's database's sources, newest first."""
    with connect(url, token) as client:
        sources = client.list_sources(
            source_type=source_type_filter.value if source_type_filter else None,
            limit=limit,
            offset=offset,
        )
    if as_json:
        print_json(sources)
        return
    rows = [
        [
            str(s["id"]),
            source_type(s),
            source_target(s),
            str((s.get("s3") or {}).get("collection_name") or "-"),
            str(s.get("created_at", "")),
        ]
        for s in sources
    ]
    print_table(rows, ["ID", "TYPE", "READS", "COLLECTION", "CREATED"])


@sources_app.command("get")
def get_source(
    source_id: Annotated[str, typer.Argument(help="Source id.")],
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one source."""
    with connect(url, token) as client:
        source = client.get_source(source_id)
    if as_json:
        print_json(source)
        return
    kind = source_type(source)
    print_fields(
        [
            ("id", source["id"]),
            ("type", kind),
            ("database", source.get("database_name")),
            ("reads", source_target(source)),
            (kind, source.get(kind)),
            ("chunking", source.get("chunking")),
            ("embedding", (source.get("embedding_model") or {}).get("model", "")),
            ("created", source.get("created_at")),
        ]
    )


@sources_app.command("delete")
def delete_source(
    source_id: Annotated[str, typer.Argument(help="Source id.")],
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a source (admin token); its pending invocations are cancelled."""
    with connect(url, token) as client:
        client.delete_source(source_id)
    report(as_json, {"source_id": source_id, "deleted": True}, f"source {source_id} deleted")


def invoke(
    source_id: Annotated[str, typer.Argument(help="Source id.")],
    collection: Annotated[
        str | None, typer.Option(help="Target collection (GitHub and web: required).")
    ] = None,
    object_key: Annotated[str | None, typer.Option(help="S3: the object to sync.")] = None,
    branch: Annotated[str | None, typer.Option(help="GitHub: sync this branch's tip.")] = None,
    sha: Annotated[str | None, typer.Option(help="GitHub: sync this commit.")] = None,
    metadata: Annotated[
        str | None, typer.Option(help="S3: JSON object merged into every chunk's metadata.")
    ] = None,
    custom_id: Annotated[str | None, typer.Option(help="S3: chunk id prefix.")] = None,
    wait: Annotated[
        bool, typer.Option(help="Watch it until it ends (exit 1 unless complete).")
    ] = False,
    url: UrlOption = DEFAULT,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start an invocation (sync) of a source and print its id."""
    try:
        payload = invocation_body(
            collection=collection,
            object_key=object_key,
            branch=branch,
            sha=sha,
            metadata=metadata,
            custom_id=custom_id,
        )
    except UsageError as exc:
        raise fail(str(exc)) from None
    with connect(url, token, flags=INVOKE_FLAGS) as client:
        invocation_id = client.create_invocation(source_id, payload)
        if not wait:
            report(as_json, {"invocation_id": invocation_id}, f"invocation {invocation_id} pending")
            return
        typer.echo(f"invocation {invocation_id} pending", err=True)
        code = watch_until_done(client, invocation_id, as_json=as_json)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``sources``, ``invoke``, ``invocations`` and ``query`` to the ``chroma-sync`` app."""
    app.add_typer(sources_app, name="sources")
    app.command("invoke")(invoke)
    app.add_typer(invocations_app, name="invocations")
    app.command("query")(query)
