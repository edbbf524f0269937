"""Request rules beyond the schemas.

Per-source-type create-invocation rules (NOTES.md), and value checks that keep the catalog
(SQLite or PostgreSQL) from ever seeing a value it rejects. Database and collection names in
JSON bodies are checked by the payload models; :func:`check_name` applies the same rules
(``sync_pipelines.schemas.common``) to the form fields of add-file.

Every failure is a :class:`BadRequestError` whose message starts with the field's name.
"""

import math
from collections.abc import Callable
from typing import Any

from api_bridge.errors import BadRequestError
from sync_pipelines.schemas import (
    QWEN_DENSE_MODEL,
    CreateJobPayload,
    DenseEmbeddingModel,
    GitBranchRef,
    IndexJobMetadata,
    Source,
    SourceEmbeddingConfig,
    WebScrapeSourceConfig,
)
from sync_pipelines.schemas.common import check_collection_name, check_database_name
from sync_pipelines.settings import Settings

OBJECT_KEY_MAX_BYTES = 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DEFAULT_GIT_REF = GitBranchRef(branch="HEAD")
"""Stored when a GitHub invocation names no ref: the repository's default branch (git's HEAD)."""


def check_json_values(value: Any, field: str) -> None:
    """Refuse NUL characters, non-finite floats and integers outside int64, at any depth.

    Args:
        value: A JSON-like value (dicts, lists, scalars).
        field: The field name used in the error message.

    Raises:
        BadRequestError: A value the catalog or Chroma cannot store.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequestError(field, "must not contain NUL characters")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise BadRequestError(field, "integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadRequestError(field, "numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_values(key, field)
            check_json_values(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json_values(item, f"{field}[{index}]")


def check_name(value: str, field: str, rule: Callable[[str], str]) -> str:
    """Apply a name rule to a field, turning its refusal into a 400 naming the field.

    Args:
        value: The name as received.
        field: The field name used in the error message.
        rule: :func:`check_database_name` or :func:`check_collection_name` (or alike).

    Returns:
        ``value`` unchanged.

    Raises:
        BadRequestError: The rule refuses the name.
    """
    try:
        return rule(value)
    except ValueError as exc:
        raise BadRequestError(field, str(exc)) from exc


def check_add_file_names(database_name: str, collection_name: str) -> None:
    """Refuse add-file's ``database_name`` or ``collection_name`` if Chroma would."""
    check_name(database_name, "database_name", check_database_name)
    check_name(collection_name, "collection_name", check_collection_name)


def check_dense_model(model: DenseEmbeddingModel, settings: Settings, field: str) -> None:
    """Refuse the Qwen model when no Chroma Cloud key is configured (NOTES.md)."""
    if model.model == QWEN_DENSE_MODEL and settings.chroma_api_key is None:
        raise BadRequestError(
            field,
            f"{QWEN_DENSE_MODEL} needs a Chroma Cloud API key on the server "
            "(CHROMA_SYNC_CHROMA_API_KEY); use all-MiniLM-L6-v2 or configure the key",
        )


def check_sparse(embedding: SourceEmbeddingConfig | None, field: str) -> None:
    """Refuse a sparse embedding: no target chroma-sync writes to stores sparse vectors yet.

    Local and server Chroma refuse sparse indexes ("Sparse vector indexing is not enabled in
    local"), and chroma-sync does not write sparse vectors to Chroma Cloud either (NOTES.md), so
    accepting the setting would silently ignore it.
    """
    if embedding is not None and embedding.sparse is not None:
        raise BadRequestError(
            field,
            "sparse embeddings are not supported: local and server Chroma cannot index sparse "
            "vectors and chroma-sync does not write them to Chroma Cloud; omit it or send null",
        )


def check_web_source(config: WebScrapeSourceConfig | None, settings: Settings) -> None:
    """Refuse web crawl limits outside the server's bounds (documented in the README).

    Args:
        config: The ``web_scrape`` part of a create-source body, if any.
        settings: Server settings holding the bounds.

    Raises:
        BadRequestError: ``page_limit`` is 0 or over the bound, or ``max_depth`` is over it.
    """
    if config is None:
        return
    if (
        config.page_limit is not None
        and not 1 <= config.page_limit <= settings.crawl_max_page_limit
    ):
        raise BadRequestError(
            "web_scrape.page_limit",
            f"must be between 1 and {settings.crawl_max_page_limit} (null: the server default "
            f"{settings.crawl_default_page_limit})",
        )
    if config.max_depth is not None and config.max_depth > settings.crawl_max_depth_limit:
        raise BadRequestError(
            "web_scrape.max_depth",
            f"must be at most {settings.crawl_max_depth_limit} (null: unlimited within page_limit)",
        )


def _refuse(payload: CreateJobPayload, fields: tuple[str, ...], source_type: str) -> None:
    for name in fields:
        if getattr(payload, name) is not None:
            raise BadRequestError(name, f"is not allowed for {source_type} sources")


def plan_invocation(source: Source, payload: CreateJobPayload) -> IndexJobMetadata:
    """Apply the per-type rules of create-invocation and build the invocation's metadata.

    Args:
        source: The (visible) source.
        payload: The validated body.

    Returns:
        Kind, database and target collection of the new invocation.

    Raises:
        BadRequestError: A field is missing, not allowed for the source's type, or invalid.
    """
    check_json_values(payload.model_dump(mode="python"), "body")
    target = payload.target_collection_name
    kind: dict[str, Any]
    if source.github is not None:
        _refuse(payload, ("object_key", "custom_id", "metadata"), "github")
        ref = payload.ref_identifier or DEFAULT_GIT_REF
        kind = {"github": {"git_ref_identifier": ref.model_dump()}}
    elif source.web_scrape is not None:
        _refuse(payload, ("object_key", "custom_id", "metadata", "ref_identifier"), "web_scrape")
        kind = {"web_scrape": {"starting_url": source.web_scrape.starting_url}}
    elif source.s3 is not None:
        _refuse(payload, ("ref_identifier",), "s3")
        key = payload.object_key
        if key is None:
            raise BadRequestError("object_key", "is required for s3 sources")
        if len(key.encode("utf-8")) > OBJECT_KEY_MAX_BYTES:
            raise BadRequestError("object_key", f"must be at most {OBJECT_KEY_MAX_BYTES} bytes")
        prefix = source.s3.path_prefix
        if prefix and not key.startswith(prefix):
            raise BadRequestError(
                "object_key", f"must start with the source's path_prefix {prefix!r}"
            )
        target = target or source.s3.collection_name
        kind = {
            "s3": {
                "bucket_name": source.s3.bucket_name,
                "object_key": key,
                "custom_id": payload.custom_id,
                "additional_metadata": payload.metadata,
            }
        }
    else:
        raise BadRequestError("source_id", "file_upload sources take invocations only via add-file")
    if target is None:
        raise BadRequestError("target_collection_name", f"is required for {_type(source)} sources")
    return IndexJobMetadata.model_validate(
        {**kind, "database_name": source.database_name, "collection_name": target}
    )


def _type(source: Source) -> str:
    return source.source_type
