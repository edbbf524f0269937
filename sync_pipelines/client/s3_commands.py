"""``chroma-sync s3 mb|put|ls|rm|env``: buckets and objects of the S3 the server syncs from.

Made for the development S3 of ``chroma-sync serve --with-s3`` (found through the home's
``serve.json``), and usable on any S3-compatible store with ``--endpoint-url`` and keys (see
:mod:`sync_pipelines.client.s3_target` for the order in which the endpoint and keys are
chosen). Errors are one ``error: ...`` line on stderr and exit code 1.
:func:`register` adds this group and ``credentials`` to the ``chroma-sync`` app.
"""

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_pipelines.client.credentials import credentials_app
from sync_pipelines.client.output import JsonOption, fail, print_json, print_table
from sync_pipelines.client.s3_target import (
    S3CommandError,
    S3Target,
    error_code,
    make_client,
    resolve_target,
    s3_errors,
    split_s3_url,
)
from sync_pipelines.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

s3_app = typer.Typer(
    help="Buckets and objects of the server's S3 (by default the local S3 of the "
    "`chroma-sync serve --with-s3` running on the home).",
    no_args_is_help=True,
)

EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        show_default=False,
        help="S3 endpoint (default: the home's serve --with-s3, else "
        "CHROMA_SYNC_S3_ENDPOINT_URL, else AWS).",
    ),
]
AccessKeyOption = Annotated[
    str | None,
    typer.Option(
        "--access-key",
        show_default=False,
        help="Access key id (default: the local S3's, else AWS_ACCESS_KEY_ID).",
    ),
]
SecretKeyOption = Annotated[
    str | None,
    typer.Option(
        "--secret-key",
        show_default=False,
        help="Secret key (default: the local S3's, else AWS_SECRET_ACCESS_KEY).",
    ),
]
RegionOption = Annotated[str, typer.Option("--region", help="Region (signing; mb on AWS).")]


@contextmanager
def _session(
    endpoint_url: str | None,
    access_key: str | None,
    secret_key: str | None,
    region: str,
    bucket: str | None = None,
) -> Iterator[tuple["S3Client", S3Target]]:
    """A client for the chosen S3; any S3 problem becomes one ``error:`` line and exit 1."""
    try:
        target = resolve_target(
            get_settings(),
            endpoint_url=endpoint_url,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
        )
        with s3_errors(target, bucket):
            yield make_client(target), target
    except S3CommandError as exc:
        raise fail(str(exc)) from None


@s3_app.command("mb")
def make_bucket(
    bucket: Annotated[str, typer.Argument(help="Bucket name (s3:// optional).")],
    endpoint_url: EndpointOption = None,
    access_key: AccessKeyOption = None,
    secret_key: SecretKeyOption = None,
    region: RegionOption = "us-east-1",
) -> None:
    """Create a bucket."""
    name = bucket.removeprefix("s3://").rstrip("/")
    with _session(endpoint_url, access_key, secret_key, region, name) as (client, target):
        if target.endpoint_url is None and region != "us-east-1":
            client.create_bucket(
                Bucket=name,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
        else:
            client.create_bucket(Bucket=name)
    typer.echo(f"bucket {name} created")


def upload_plan(paths: list[Path], key: str) -> list[tuple[Path, str]]:
    """The (file, object key) pairs of ``put PATH... s3://BUCKET/KEY``.

    A key that is empty or ends with ``/`` is a folder: each file goes under it by name, each
    folder's files by their path inside it. A single file with a key not ending in ``/`` is
    stored under exactly that key; with several paths such a key is a folder too.

    Raises:
        S3CommandError: A path that does not exist, or a folder with no files.
    """
    for path in paths:
        if not path.exists():
            raise S3CommandError(f"{path}: no such file or folder")
    if len(paths) == 1 and paths[0].is_file() and key and not key.endswith("/"):
        return [(paths[0], key)]
    prefix = key if not key or key.endswith("/") else f"{key}/"
    plan: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            if not files:
                raise S3CommandError(f"{path}: no files in this folder")
            plan += [(p, prefix + p.relative_to(path).as_posix()) for p in files]
        else:
            plan.append((path, prefix + path.name))
    return plan


@s3_app.command("put")
def put(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Files or folders, then the destination s3://BUCKET/PREFIX (the prefix may be "
            "empty; one ending in / is a folder).",
        ),
    ],
    endpoint_url: EndpointOption = None,
    access_key: AccessKeyOption = None,
    secret_key: SecretKeyOption = None,
    region: RegionOption = "us-east-1",
) -> None:
    """Upload files (folders: every file in them): put PATH... s3://BUCKET/PREFIX/."""
    if len(paths) < 2 or not paths[-1].startswith("s3://"):
        raise fail("give one or more files, then the destination s3://BUCKET[/PREFIX]")
    try:
        bucket, key = split_s3_url(paths[-1])
        plan = upload_plan([Path(p) for p in paths[:-1]], key)
    except S3CommandError as exc:
        raise fail(str(exc)) from None
    with _session(endpoint_url, access_key, secret_key, region, bucket) as (client, _):
        client.head_bucket(Bucket=bucket)
        for path, object_key in plan:
            client.upload_file(str(path), bucket, object_key)
            size = path.stat().st_size
            typer.echo(f"uploaded {path} -> s3://{bucket}/{object_key} ({size:,} bytes)")


def _objects(client: "S3Client", bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        yield from (dict(item) for item in page.get("Contents", []))


@s3_app.command("ls")
def list_objects(
    location: Annotated[
        str | None,
        typer.Argument(
            metavar="BUCKET/PREFIX",
            help="What to list (none: the buckets; s3:// and the prefix are optional).",
        ),
    ] = None,
    endpoint_url: EndpointOption = None,
    access_key: AccessKeyOption = None,
    secret_key: SecretKeyOption = None,
    region: RegionOption = "us-east-1",
    as_json: JsonOption = False,
) -> None:
    """List the buckets, or every object of a bucket (under a prefix), with size and date."""
    try:
        bucket, prefix = split_s3_url(location) if location else (None, "")
    except S3CommandError as exc:
        raise fail(str(exc)) from None
    with _session(endpoint_url, access_key, secret_key, region, bucket) as (client, _):
        if bucket is None:
            buckets = client.list_buckets().get("Buckets", [])
            rows = [[str(b["Name"]), f"{b['CreationDate']:%Y-%m-%dT%H:%M:%SZ}"] for b in buckets]
            headers = ["BUCKET", "CREATED"]
        else:
            items = list(_objects(client, bucket, prefix))
            rows = [
                [str(o["Key"]), str(o["Size"]), f"{o['LastModified']:%Y-%m-%dT%H:%M:%SZ}"]
                for o in items
            ]
            headers = ["KEY", "SIZE", "MODIFIED"]
    if as_json:
        print_json([dict(zip(map(str.lower, headers), row, strict=True)) for row in rows])
    elif rows:
        print_table(rows, headers)
    else:
        where = f"s3://{bucket}/{prefix}" if bucket else "this S3"
        typer.echo(f"nothing in {where}", err=True)


@s3_app.command("rm")
def remove(
    keys: Annotated[
        list[str],
        typer.Argument(metavar="s3://BUCKET/KEY", help="Objects to delete (s3:// optional)."),
    ],
    recursive: Annotated[
        bool, typer.Option("--recursive", help="Delete every object under each KEY as a prefix.")
    ] = False,
    endpoint_url: EndpointOption = None,
    access_key: AccessKeyOption = None,
    secret_key: SecretKeyOption = None,
    region: RegionOption = "us-east-1",
) -> None:
    """Delete objects (an object that does not exist is an error, unless --recursive)."""
    try:
        targets = [split_s3_url(key) for key in keys]
    except S3CommandError as exc:
        raise fail(str(exc)) from None
    for bucket, key in targets:
        if not key and not recursive:
            raise fail(f"s3://{bucket}/: name an object, or pass --recursive to empty a prefix")
        with _session(endpoint_url, access_key, secret_key, region, bucket) as (client, _):
            client.head_bucket(Bucket=bucket)
            found = [str(o["Key"]) for o in _objects(client, bucket, key)] if recursive else []
            if not recursive:
                _require_object(client, bucket, key)
                found = [key]
            for name in found:
                client.delete_object(Bucket=bucket, Key=name)
                typer.echo(f"deleted s3://{bucket}/{name}")


def _require_object(client: "S3Client", bucket: str, key: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            raise S3CommandError(f"s3://{bucket}/{key}: no such object") from None
        raise


@s3_app.command("env")
def env(
    endpoint_url: EndpointOption = None,
    access_key: AccessKeyOption = None,
    secret_key: SecretKeyOption = None,
    region: RegionOption = "us-east-1",
) -> None:
    """Print `export` lines for other S3 tools: eval "$(chroma-sync s3 env)" then aws s3 ls."""
    target = resolve_target(
        get_settings(),
        endpoint_url=endpoint_url,
        access_key=access_key,
        secret_key=secret_key,
        region=region,
    )
    values = {
        "AWS_ENDPOINT_URL": target.endpoint_url,
        "AWS_ACCESS_KEY_ID": target.access_key,
        "AWS_SECRET_ACCESS_KEY": target.secret_key,
        "AWS_DEFAULT_REGION": target.region,
    }
    for name, value in values.items():
        if value:
            typer.echo(f"export {name}={shlex.quote(value)}")
    typer.echo(f"# from {target.origin}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``s3`` and ``credentials`` to the ``chroma-sync`` app."""
    app.add_typer(s3_app, name="s3")
    app.add_typer(credentials_app, name="credentials")
