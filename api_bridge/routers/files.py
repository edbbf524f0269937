"""``POST /api/v1/add-file``: stream one file into the upload store and queue its invocation.

``database_name`` and ``collection_name`` must precede the ``file`` part: the token is checked
against them before any file byte is stored. The file's size must equal
``x-upload-content-length`` (400 otherwise); a declared size over the server limit is 400
naming ``x-upload-content-length``, as the spec lists (it declares the 209,715,200 maximum).
At most ``max_concurrent_uploads`` requests are served at once (429 beyond). A body that
stalls for ``upload_read_timeout_s`` or trickles below ``upload_min_bytes_per_s`` is dropped:
its slot is freed, its partial file removed, and it is answered 400 on a closed connection.
"""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from pydantic import TypeAdapter, ValidationError

from api_bridge.auth import Token, require_database
from api_bridge.deps import CatalogDep, LauncherDep, SettingsDep, UploadStoreDep
from api_bridge.errors import (
    BadRequestError,
    TooManyRequestsError,
    api_error_response,
    describe_validation_errors,
)
from api_bridge.multipart import FileStart, FormField, StreamingForm, UploadDroppedError
from api_bridge.spec import ADD_FILE_OPENAPI
from api_bridge.validation import (
    check_add_file_names,
    check_dense_model,
    check_json_values,
    check_sparse,
)
from sync_pipelines.catalog import Catalog
from sync_pipelines.schemas import (
    SOURCE_CHUNKING_ADAPTER,
    AddFileResponse,
    ChunkMetadata,
    CustomId,
    IndexJobMetadata,
    Job,
    SourceEmbeddingConfig,
)
from sync_pipelines.settings import Settings
from sync_pipelines.uploads import StoredUpload, UploadError, UploadStore, UploadTooLargeError

FIELDS = frozenset(
    {"database_name", "collection_name", "custom_id", "metadata", "embedding", "chunking"}
    | {"content_type"}
)
MAX_FIELD_BYTES = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024
MAX_CONTENT_TYPE_CHARS = 512
MULTIPART_OVERHEAD_BYTES = 1024 * 1024
_CUSTOM_ID: TypeAdapter[str | None] = TypeAdapter(CustomId)
_METADATA: TypeAdapter[dict[str, Any] | None] = TypeAdapter(ChunkMetadata)

router = APIRouter(tags=["File Upload"])


class UploadSlots:
    """Counts uploads in flight in this process (touched only from the event loop)."""

    def __init__(self, limit: int) -> None:
        """Allow ``limit`` concurrent uploads."""
        self.limit = limit
        self.active = 0

    @contextlib.contextmanager
    def acquire(self) -> Iterator[None]:
        """Hold a slot for the duration of one upload, or refuse with 429."""
        if self.active >= self.limit:
            raise TooManyRequestsError(f"more than {self.limit} uploads are in progress; retry")
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


@dataclass(frozen=True)
class _Options:
    custom_id: str | None
    metadata: dict[str, Any] | None
    chunking: Any
    embedding: SourceEmbeddingConfig | None


def _declared_size(request: Request, settings: Settings) -> int:
    raw = request.headers.get("x-upload-content-length")
    if raw is None:
        raise BadRequestError("x-upload-content-length", "header is required")
    if not raw.strip().isdigit():
        raise BadRequestError("x-upload-content-length", "must be a positive integer")
    declared = int(raw)
    if declared < 1:
        raise BadRequestError("x-upload-content-length", "must be at least 1")
    if declared > settings.max_upload_bytes:
        raise BadRequestError(
            "x-upload-content-length",
            f"{declared} is over the {settings.max_upload_bytes}-byte limit",
        )
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > declared + MULTIPART_OVERHEAD_BYTES:
        raise BadRequestError("body", "larger than the declared file plus form fields")
    return declared


def _json_field(fields: dict[str, str], name: str, adapter: TypeAdapter[Any]) -> Any:
    raw = fields.get(name)
    if raw is None:
        return None
    try:
        value = adapter.validate_python(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise BadRequestError(name, f"must be a JSON document ({exc.msg})") from exc
    except ValidationError as exc:
        raise BadRequestError(name, describe_validation_errors(exc.errors())) from exc
    return value


def _options(fields: dict[str, str], settings: Settings) -> _Options:
    for name, value in fields.items():
        check_json_values(value, name)
    if len(fields.get("content_type", "")) > MAX_CONTENT_TYPE_CHARS:
        raise BadRequestError("content_type", f"at most {MAX_CONTENT_TYPE_CHARS} characters")
    raw_metadata = fields.get("metadata")
    if raw_metadata is not None and len(raw_metadata.encode("utf-8")) > MAX_METADATA_BYTES:
        raise BadRequestError("metadata", f"must be at most {MAX_METADATA_BYTES} bytes")
    metadata = _json_field(fields, "metadata", _METADATA)
    check_json_values(metadata, "metadata")
    try:
        custom_id = _CUSTOM_ID.validate_python(fields.get("custom_id"))
    except ValidationError as exc:
        raise BadRequestError("custom_id", describe_validation_errors(exc.errors())) from exc
    embedding = _json_field(fields, "embedding", TypeAdapter(SourceEmbeddingConfig))
    if embedding is not None and embedding.dense is not None:
        check_dense_model(embedding.dense, settings, "embedding.dense.model")
    check_sparse(embedding, "embedding.sparse")
    chunking = _json_field(fields, "chunking", SOURCE_CHUNKING_ADAPTER)
    return _Options(custom_id, metadata, chunking, embedding)


def _record(
    catalog: Catalog, fields: dict[str, str], filename: str, stored: StoredUpload, opts: _Options
) -> Job:
    database_name = fields["database_name"]
    source = catalog.ensure_file_upload_source(database_name, opts.chunking, opts.embedding)
    metadata = IndexJobMetadata.model_validate(
        {
            "file_upload": {"filename": filename},
            "database_name": database_name,
            "collection_name": fields["collection_name"],
        }
    )
    return catalog.create_invocation(
        source.id,
        metadata,
        object_key=stored.key,
        custom_id=opts.custom_id,
        extra_metadata=opts.metadata,
    )


def _authorize(fields: dict[str, str], token: Token) -> None:
    for name in ("database_name", "collection_name"):
        if name not in fields:
            raise BadRequestError(name, "is required and must come before the file part")
    check_add_file_names(fields["database_name"], fields["collection_name"])
    require_database(token, fields["database_name"])


async def _receive(
    form: StreamingForm,
    token: Token,
    catalog: Catalog,
    settings: Settings,
    store: UploadStore,
    declared: int,
) -> Job:
    """Read the form, store its file and record the invocation; nothing is kept on failure."""
    fields: dict[str, str] = {}
    stored: StoredUpload | None = None
    filename = ""
    try:
        while (event := await form.next_event()) is not None:
            if isinstance(event, FormField):
                if event.name not in FIELDS or event.name in fields:
                    raise BadRequestError(event.name, "unknown or repeated form field")
                fields[event.name] = event.value
            elif isinstance(event, FileStart):
                if event.name != "file" or stored is not None:
                    raise BadRequestError(event.name, "exactly one file part named 'file'")
                _authorize(fields, token)
                filename = event.filename or "file"
                save = partial(
                    store.save,
                    fields["database_name"],
                    filename,
                    form.file_chunks(),
                    declared_size=declared,
                    max_bytes=settings.max_upload_bytes,
                )
                stored = await anyio.to_thread.run_sync(save)
        if stored is None:
            raise BadRequestError("file", "a file part is required")
        check_json_values(filename, "file")
        opts = _options(fields, settings)
        return await anyio.to_thread.run_sync(_record, catalog, fields, filename, stored, opts)
    except UploadTooLargeError as exc:
        # The declared size already passed the server limit: the declaration is wrong.
        raise BadRequestError("x-upload-content-length", str(exc)) from exc
    except UploadError as exc:
        raise BadRequestError(exc.field, str(exc)) from exc
    except BaseException:
        if stored is not None:
            store.discard(stored.key)
        raise


@router.post(
    "/api/v1/add-file",
    status_code=status.HTTP_201_CREATED,
    response_model=AddFileResponse,
    operation_id="add_file",
    openapi_extra=ADD_FILE_OPENAPI,
)
async def add_file(
    request: Request,
    token: Token,
    catalog: CatalogDep,
    settings: SettingsDep,
    store: UploadStoreDep,
    launcher: LauncherDep,
    background: BackgroundTasks,
) -> Response:
    """Store an uploaded file and queue a pending ``file_upload`` invocation for it."""
    slots: UploadSlots = request.app.state.upload_slots
    with slots.acquire():
        declared = _declared_size(request, settings)
        form = StreamingForm(
            request.headers.get("content-type"),
            request.stream(),
            max_field_bytes=MAX_FIELD_BYTES,
            max_parts=len(FIELDS) + 1,
            read_timeout_s=settings.upload_read_timeout_s,
            min_bytes_per_s=settings.upload_min_bytes_per_s,
        )
        try:
            job = await _receive(form, token, catalog, settings, store, declared)
        except UploadDroppedError as exc:
            # The rest of the body is never read: the connection cannot serve another request.
            dropped = api_error_response(exc)
            dropped.headers["connection"] = "close"
            return dropped
    background.add_task(launcher.launch, job.id)
    return Response(
        content=AddFileResponse(invocation_id=job.id).model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )
