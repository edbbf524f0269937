"""Request bodies built from command-line flags (pure functions; the server validates the rest).

A problem a user can fix from the command line raises :class:`UsageError` naming the flag.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from sync_pipelines.client.http import Json


class UsageError(ValueError):
    """Flags that cannot make a request; the message names the flag."""


@dataclass
class SourceFlags:
    """The flags of ``sources create`` (``None`` or empty when not given)."""

    database: str | None = None
    github: str | None = None
    s3_bucket: str | None = None
    web: str | None = None
    region: str = "us-east-1"
    collection: str | None = None
    prefix: str | None = None
    auto_sync: str | None = None
    endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_credential_id: int | None = None
    max_depth: int | None = None
    page_limit: int | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    chunking: str | None = None


_S3_ONLY = (
    "collection",
    "prefix",
    "auto_sync",
    "endpoint_url",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_credential_id",
)
_WEB_ONLY = ("max_depth", "page_limit")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_chunking(text: str) -> Json:
    """Parse ``--chunking``: ``tree_sitter[:MAX_BYTES]``, ``lines[:MAX_LINES[:MAX_BYTES]]``, JSON.

    Raises:
        UsageError: Unknown type, a non-integer limit, or invalid JSON.
    """
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--chunking: not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise UsageError("--chunking: expected a JSON object")
        return value
    kind, *limits = text.split(":")
    names = {"tree_sitter": ["max_size_bytes"], "lines": ["max_lines", "max_size_bytes"]}
    if kind not in names:
        raise UsageError(
            f"--chunking {text!r}: use tree_sitter[:MAX_BYTES], lines[:MAX_LINES[:MAX_BYTES]] "
            "or a JSON object"
        )
    if len(limits) > len(names[kind]):
        raise UsageError(f"--chunking {text!r}: too many limits for {kind}")
    body: Json = {"type": kind}
    for name, limit in zip(names[kind], limits, strict=False):
        if not limit.isdigit():
            raise UsageError(f"--chunking {text!r}: {name} must be a whole number, got {limit!r}")
        body[name] = int(limit)
    return body


def _reject(flags: SourceFlags, names: tuple[str, ...], kind_flag: str) -> None:
    for name in names:
        value = getattr(flags, name)
        if value is not None:
            raise UsageError(f"{_flag(name)} applies to {kind_flag} sources only")


def source_body(flags: SourceFlags) -> Json:
    """The create-source body for ``flags`` (exactly one of --github, --s3-bucket, --web).

    Raises:
        UsageError: No or several types, a flag of another type, or a missing required flag.
    """
    kinds = [name for name in ("github", "s3_bucket", "web") if getattr(flags, name) is not None]
    if len(kinds) != 1:
        given = ", ".join(_flag(k) for k in kinds) or "none"
        raise UsageError(
            f"give exactly one of --github, --s3-bucket, --web or --body (got {given})"
        )
    if not flags.database:
        raise UsageError("--database is required (or set CHROMA_SYNC_DATABASE)")
    kind = kinds[0]
    body: Json = {"database_name": flags.database}
    if kind == "github":
        _reject(flags, _S3_ONLY + _WEB_ONLY, "--s3-bucket/--web")
        config: Json = {"repository": flags.github}
        _put(config, "include_globs", flags.include or None)
        _put(config, "exclude_globs", flags.exclude or None)
        body["github"] = config
    elif kind == "s3_bucket":
        _reject(flags, _WEB_ONLY, "--web")
        if flags.include or flags.exclude:
            raise UsageError("--include/--exclude apply to --github and --web sources only")
        if not flags.collection:
            raise UsageError("--collection is required with --s3-bucket")
        config = {
            "bucket_name": flags.s3_bucket,
            "region": flags.region,
            "collection_name": flags.collection,
        }
        for name in _S3_ONLY[1:]:
            _put(config, "path_prefix" if name == "prefix" else name, getattr(flags, name))
        body["s3"] = config
    else:
        _reject(flags, _S3_ONLY, "--s3-bucket")
        config = {"starting_url": flags.web}
        _put(config, "include_path_regexes", flags.include or None)
        _put(config, "exclude_path_regexes", flags.exclude or None)
        _put(config, "max_depth", flags.max_depth)
        _put(config, "page_limit", flags.page_limit)
        body["web_scrape"] = config
    if flags.chunking is not None:
        body["chunking"] = parse_chunking(flags.chunking)
    return body


def raw_body(text: str, database: str | None, origin: str) -> Json:
    """A body given as raw JSON (``--body``); ``database`` fills a missing ``database_name``.

    Raises:
        UsageError: Not JSON, or not an object.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--body {origin}: not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    if not isinstance(value, dict):
        raise UsageError(f"--body {origin}: expected a JSON object")
    if database and "database_name" not in value:
        value["database_name"] = database
    return value


def invocation_body(
    *,
    collection: str | None = None,
    object_key: str | None = None,
    branch: str | None = None,
    sha: str | None = None,
    metadata: str | None = None,
    custom_id: str | None = None,
) -> Json:
    """The create-invocation body; which fields a source type accepts is the server's rule.

    Raises:
        UsageError: Both --branch and --sha, or --metadata that is not a JSON object.
    """
    if branch is not None and sha is not None:
        raise UsageError("--branch and --sha are mutually exclusive")
    body: Json = {}
    _put(body, "target_collection_name", collection)
    _put(body, "object_key", object_key)
    _put(body, "custom_id", custom_id)
    if branch is not None:
        body["ref_identifier"] = {"branch": branch}
    if sha is not None:
        body["ref_identifier"] = {"sha": sha}
    if metadata is not None:
        try:
            value = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--metadata: not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise UsageError("--metadata: expected a JSON object")
        body["metadata"] = value
    return body


def _put(target: Json, key: str, value: Any) -> None:
    if value is not None:
        target[key] = value
