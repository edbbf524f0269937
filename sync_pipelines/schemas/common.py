"""Shared building blocks of the Sync API models: the base class, enums and small bodies."""

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)
from pydantic_core import PydanticCustomError

from sync_pipelines.core.records import STANDARD_METADATA_KEYS

JobId = UUID
SourceId = UUID

CUSTOM_ID_MAX_BYTES = 120
INT32_MAX = 2**31 - 1
DATABASE_NAME_MIN_CHARS = 3
"""Chroma refuses shorter database names (any other characters are accepted)."""
COLLECTION_NAME_MAX_CHARS = 512
CATALOG_NAME_MAX_CHARS = 255
"""Width of the catalog's name columns (``String(255)``): the bound on stored names."""
_COLLECTION_NAME = re.compile(
    f"[a-zA-Z0-9][a-zA-Z0-9._-]{{1,{COLLECTION_NAME_MAX_CHARS - 2}}}[a-zA-Z0-9]"
)

RESERVED_METADATA_KEYS = STANDARD_METADATA_KEYS
"""Standard chunk metadata keys (NOTES.md) that invocation metadata may not overwrite."""


def unique_items(values: list[str] | None) -> list[str] | None:
    """Validator: refuse a list with repeated items."""
    if values is not None and len(set(values)) != len(values):
        raise ValueError("items must be unique")
    return values


def _is_none(value: object) -> bool:
    return value is None


def omitted_if_none() -> Any:
    """Field default for optional fields that the spec does not allow to be ``null``.

    The field defaults to ``None`` and is left out of serialized output while unset (used
    for non-nullable optional spec fields, the flattened type keys, and our extensions).
    """
    return Field(default=None, exclude_if=_is_none)


class SpecModel(BaseModel):
    """Base of every typed spec object: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")


class SourceTypeFilter(StrEnum):
    """Source types that list filters accept (``file_upload`` is not filterable)."""

    GITHUB = "github"
    WEB_SCRAPE = "web_scrape"
    S3 = "s3"


class OrderBy(StrEnum):
    """Ordering of list results by ``created_at`` (default ``DESC``)."""

    ASC = "ASC"
    DESC = "DESC"


class InvocationStatusFilter(StrEnum):
    """Plain status words used by the list-invocations ``status`` filter and the catalog."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AutoSync(StrEnum):
    """Auto-sync mode of an S3 source (acted on by the S3 auto-sync sensor; NOTES.md)."""

    NONE = "none"
    DIRECT = "direct"
    METADATA = "metadata"


class ErrorResponse(SpecModel):
    """Body of every error answer: ``{"error": "<kind>", "message": "<human text>"}``."""

    error: str
    message: str


class CancelJobResponse(SpecModel):
    """Body of a successful cancel: the empty object ``{}``."""


class CreateJobResponse(SpecModel):
    """Answer of create-invocation."""

    invocation_id: JobId


class AddFileResponse(SpecModel):
    """Answer of add-file."""

    invocation_id: JobId


class CreateSourceResponse(SpecModel):
    """Answer of create-source."""

    source_id: SourceId


def _check_custom_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not value:
        raise ValueError("custom_id must not be empty")
    if len(value.encode("utf-8")) > CUSTOM_ID_MAX_BYTES:
        raise ValueError(f"custom_id must be at most {CUSTOM_ID_MAX_BYTES} bytes of UTF-8")
    return value


def _refuse_name(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_name", message)


def _check_catalog_width(value: str) -> None:
    if len(value) > CATALOG_NAME_MAX_CHARS:
        raise _refuse_name(f"must be at most {CATALOG_NAME_MAX_CHARS} characters")
    if "\x00" in value:
        raise _refuse_name("must not contain NUL characters")


def check_database_name(value: str) -> str:
    """Refuse a database name Chroma or the catalog would refuse.

    Chroma needs at least 3 characters and accepts any other character; the catalog stores at
    most 255 characters and no NUL.

    Args:
        value: The database name.

    Returns:
        ``value`` unchanged.

    Raises:
        PydanticCustomError: (a ``ValueError``) whose message says what is wrong.
    """
    if len(value) < DATABASE_NAME_MIN_CHARS:
        raise _refuse_name(f"must be at least {DATABASE_NAME_MIN_CHARS} characters")
    _check_catalog_width(value)
    return value


def check_collection_name(value: str) -> str:
    """Refuse a collection name Chroma or the catalog would refuse.

    Chroma's rule: 3-512 characters from ``[a-zA-Z0-9._-]`` starting and ending with a
    letter or digit, no ``..``, not an IPv4 address. The catalog stores at most 255 characters.

    Args:
        value: The collection name.

    Returns:
        ``value`` unchanged.

    Raises:
        PydanticCustomError: (a ``ValueError``) whose message says what is wrong.
    """
    if not _COLLECTION_NAME.fullmatch(value):
        raise _refuse_name(
            f"must be 3-{COLLECTION_NAME_MAX_CHARS} characters from [a-zA-Z0-9._-], starting "
            "and ending with a letter or digit"
        )
    if ".." in value:
        raise _refuse_name("must not contain two consecutive periods (..)")
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        pass
    else:
        raise _refuse_name("must not be an IPv4 address")
    _check_catalog_width(value)
    return value


DatabaseName = Annotated[str, AfterValidator(check_database_name)]
"""A database name Chroma accepts: at least 3 characters (at most 255, no NUL)."""

CollectionName = Annotated[str, AfterValidator(check_collection_name)]
"""A collection name Chroma accepts (see :func:`check_collection_name`)."""

CustomId = Annotated[str | None, AfterValidator(_check_custom_id)]
"""A custom chunk-id prefix: non-empty, at most 120 bytes of UTF-8."""

MetadataScalar = str | int | float | bool
MetadataValue = MetadataScalar | list[str] | list[int] | list[float] | list[bool]


def _scalar_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    raise ValueError(f"metadata values must be strings, numbers or booleans, got {value!r}")


def _check_metadata(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("metadata must be an object")
    checked: dict[str, object] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValueError("metadata keys must be non-empty strings")
        if key in RESERVED_METADATA_KEYS or key.startswith(("chroma:", "chroma_")):
            raise ValueError(f"metadata key {key!r} is reserved")
        if isinstance(item, list):
            if not item:
                raise ValueError(f"metadata array {key!r} must not be empty")
            kinds = {_scalar_kind(element) for element in item}
            if len(kinds) != 1:
                raise ValueError(f"metadata array {key!r} must hold values of one type")
            has_float = any(isinstance(e, float) for e in item)
            checked[key] = [float(e) for e in item] if has_float else list(item)
        else:
            _scalar_kind(item)
            checked[key] = item
    return checked


ChunkMetadata = Annotated[dict[str, MetadataValue] | None, BeforeValidator(_check_metadata)]
"""Extra chunk metadata: scalar values or non-empty homogeneous arrays of them.

Mixed integer/float arrays are stored as floats, because Chroma requires one element type.
Keys must not overwrite a standard chunk metadata key nor start with ``chroma:`` or ``chroma_``.
"""
