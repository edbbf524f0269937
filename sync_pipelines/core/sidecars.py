"""Sidecar files of the S3 ``metadata`` auto-sync mode: parse and validate, nothing else.

A sidecar is an object whose key ends in ``.meta.json``; uploading it asks for the object it
names to be synced with an id and metadata of the uploader's choice::

    {
      "version": "chroma-v1",
      "id": "handbook-2024",                 # becomes the invocation's custom_id
      "path": "docs/handbook.pdf",           # full object key, inside the source's prefix
      "target_collection_name": "handbook",  # optional: default the source's collection
      "metadata": {"team": "ops", "year": 2024, "tags": ["hr", "policy"]}   # optional
    }

Every refusal is a :class:`SidecarError` whose message is the reason (the caller names the
sidecar's key).
"""

import json
import math
from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import TypeAdapter, ValidationError

from sync_pipelines.schemas.common import (
    CUSTOM_ID_MAX_BYTES,
    ChunkMetadata,
    MetadataValue,
    check_collection_name,
)

SIDECAR_SUFFIX = ".meta.json"
SIDECAR_VERSION = "chroma-v1"
MAX_SIDECAR_BYTES = 64 * 1024
OBJECT_KEY_MAX_BYTES = 1024
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_REQUIRED = ("version", "id", "path")
_FIELDS = frozenset((*_REQUIRED, "target_collection_name", "metadata"))
_METADATA: TypeAdapter[dict[str, MetadataValue] | None] = TypeAdapter(ChunkMetadata)


class SidecarError(ValueError):
    """A sidecar that cannot be used; the message says why."""


@dataclass(frozen=True)
class Sidecar:
    """A valid sidecar: what to sync and how.

    Attributes:
        object_key: The object to sync (full key).
        custom_id: Chunk-id prefix of its chunks (the sidecar's ``id``).
        target_collection_name: Collection to write, or ``None`` for the source's own.
        metadata: Extra chunk metadata, or ``None``.
    """

    object_key: str
    custom_id: str
    target_collection_name: str | None
    metadata: dict[str, MetadataValue] | None


def is_sidecar_key(key: str) -> bool:
    """Whether ``key`` names a sidecar (ends in ``.meta.json``)."""
    return key.endswith(SIDECAR_SUFFIX)


def _refuse(reason: str) -> NoReturn:
    raise SidecarError(reason)


def _refuse_constant(name: str) -> NoReturn:
    _refuse(f"not valid JSON: {name} is not a JSON number")


def _check_values(value: Any, where: str) -> None:
    """Refuse NUL characters, non-finite numbers and integers outside int64, at any depth."""
    if isinstance(value, str):
        if "\x00" in value:
            _refuse(f"{where} must not contain NUL characters")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            _refuse(f"{where} must be an integer that fits in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            _refuse(f"{where} must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_values(key, f"{where} keys")
            _check_values(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(item, f"{where}[{index}]")


def _string(document: dict[str, Any], field: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value:
        _refuse(f"{field} must be a non-empty string")
    return value


def _check_path(path: str, path_prefix: str | None) -> None:
    if len(path.encode("utf-8")) > OBJECT_KEY_MAX_BYTES:
        _refuse(f"path must be at most {OBJECT_KEY_MAX_BYTES} bytes of UTF-8")
    if path.startswith("/"):
        _refuse("path must be a full object key, not start with '/'")
    if ".." in path.split("/"):
        _refuse("path must not contain '..' segments")
    if path.endswith("/"):
        _refuse("path must name an object, not a folder (ends with '/')")
    if is_sidecar_key(path):
        _refuse(f"path must not name another sidecar ({SIDECAR_SUFFIX})")
    if path_prefix and not path.startswith(path_prefix):
        _refuse(f"path {path!r} is outside the source's path_prefix {path_prefix!r}")


def _metadata(value: Any) -> dict[str, MetadataValue] | None:
    try:
        return _METADATA.validate_python(value)
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        _refuse(f"metadata: {message}")


def _document(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_SIDECAR_BYTES:
        _refuse(f"sidecar is {len(data)} bytes, over the {MAX_SIDECAR_BYTES}-byte cap")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        _refuse("not UTF-8 text")
    try:
        document: Any = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        _refuse(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        _refuse("not valid JSON: nested too deeply")
    if not isinstance(document, dict):
        _refuse("must be a JSON object")
    return document


def parse_sidecar(data: bytes, *, path_prefix: str | None = None) -> Sidecar:
    """Validate a sidecar's bytes.

    Args:
        data: The sidecar object's content.
        path_prefix: The source's ``path_prefix``; ``path`` must start with it when set.

    Returns:
        The sidecar.

    Raises:
        SidecarError: The reason the sidecar cannot be used.
    """
    document = _document(data)
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        _refuse(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(_FIELDS))})")
    missing = [field for field in _REQUIRED if field not in document]
    if missing:
        _refuse(f"missing field {missing[0]!r}")
    _check_values(document, "sidecar")
    version = document["version"]
    if version != SIDECAR_VERSION:
        _refuse(f"version must be {SIDECAR_VERSION!r}, got {version!r}")
    custom_id = _string(document, "id")
    if len(custom_id.encode("utf-8")) > CUSTOM_ID_MAX_BYTES:
        _refuse(f"id must be at most {CUSTOM_ID_MAX_BYTES} bytes of UTF-8")
    path = _string(document, "path")
    _check_path(path, path_prefix)
    target = document.get("target_collection_name")
    if target is not None:
        if not isinstance(target, str):
            _refuse("target_collection_name must be a string")
        try:
            check_collection_name(target)
        except ValueError as exc:
            _refuse(f"target_collection_name {target!r} {exc}")
    return Sidecar(
        object_key=path,
        custom_id=custom_id,
        target_collection_name=target,
        metadata=_metadata(document.get("metadata")),
    )
