"""A pull-based, streaming ``multipart/form-data`` reader over python-multipart.

Unlike ``request.form()``, nothing is spooled: small text fields are collected (bounded), and
a file part's bytes are handed out chunk by chunk as they arrive, so the caller can authorize
on the fields that precede the file before a single file byte is stored.

A body that stalls (no bytes for ``read_timeout_s``) or trickles (an average below
``min_bytes_per_s`` once ``read_timeout_s`` has passed) is dropped with
:class:`UploadDroppedError`, so a slow client cannot hold the caller's resources for long.
"""

import math
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import anyio
import anyio.from_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from api_bridge.errors import BadRequestError


@dataclass(frozen=True)
class FormField:
    """A complete text field."""

    name: str
    value: str


@dataclass(frozen=True)
class FileStart:
    """A file part begins (its bytes follow as :class:`FileChunk` events)."""

    name: str
    filename: str
    content_type: str | None


@dataclass(frozen=True)
class FileChunk:
    """Some bytes of the current file part."""

    data: bytes


@dataclass(frozen=True)
class FileEnd:
    """The current file part is complete."""


FormEvent = FormField | FileStart | FileChunk | FileEnd


class UploadDroppedError(BadRequestError):
    """The body stalled, trickled below the minimum rate, or the client went away."""

    def __init__(self, reason: str) -> None:
        """Name the ``file`` field and ``reason``."""
        super().__init__("file", f"upload dropped: {reason}")


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(what, "must be UTF-8") from exc


class StreamingForm:
    """Events of a multipart body, in order, read from the request stream on demand."""

    def __init__(
        self,
        content_type: str | None,
        stream: AsyncIterator[bytes],
        *,
        max_field_bytes: int,
        max_parts: int,
        read_timeout_s: float = math.inf,
        min_bytes_per_s: float = 0,
    ) -> None:
        """Prepare to parse.

        Args:
            content_type: The request's ``Content-Type`` (must be multipart with a boundary).
            stream: The raw body chunks.
            max_field_bytes: Largest text field (400 above).
            max_parts: Most parts accepted (400 above).
            read_timeout_s: Longest wait for the next body bytes.
            min_bytes_per_s: Slowest average rate of the whole body, enforced once
                ``read_timeout_s`` has passed since construction (0: none).

        Raises:
            BadRequestError: Not a multipart body.
        """
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise BadRequestError("content-type", "must be multipart/form-data with a boundary")
        self._stream = stream
        self._max_field_bytes = max_field_bytes
        self._max_parts = max_parts
        self._read_timeout_s = read_timeout_s
        self._min_rate = min_bytes_per_s
        self._started = time.monotonic()
        self._received = 0
        self._events: deque[FormEvent] = deque()
        self._parts = 0
        self._done = False
        self._in_file = False
        self._field: bytearray | None = None
        self._name = ""
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._part_type: str | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
        )

    async def next_event(self) -> FormEvent | None:
        """Return the next event, or ``None`` once the body is exhausted."""
        while not self._events:
            if self._done:
                if self._in_file:
                    raise BadRequestError("file", "the body ended inside the file part")
                return None
            try:
                chunk = await self._read()
            except StopAsyncIteration:
                self._parser.finalize()
                self._done = True
                continue
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise BadRequestError("body", f"malformed multipart body: {exc}") from exc
        return self._events.popleft()

    async def _read(self) -> bytes:
        """The next body chunk, within the read timeout and the minimum average rate."""
        now = time.monotonic()
        idle_deadline = now + self._read_timeout_s
        rate_deadline = math.inf
        if self._min_rate > 0:
            rate_deadline = self._started + max(
                self._read_timeout_s, self._received / self._min_rate
            )
        try:
            with anyio.fail_after(max(0.0, min(idle_deadline, rate_deadline) - now)):
                chunk = await self._stream.__anext__()
        except TimeoutError as exc:
            if idle_deadline < rate_deadline:
                raise UploadDroppedError(f"no body bytes for {self._read_timeout_s:g} s") from exc
            elapsed = time.monotonic() - self._started
            raise UploadDroppedError(
                f"{self._received} bytes in {elapsed:.1f} s, below the minimum average of "
                f"{self._min_rate:g} bytes/s"
            ) from exc
        except ClientDisconnect as exc:
            raise UploadDroppedError("the client disconnected") from exc
        self._received += len(chunk)
        return chunk

    def file_chunks(self) -> Iterator[bytes]:
        """From a worker thread: the current file part's bytes, pulled from the event loop."""
        while True:
            event = anyio.from_thread.run(self.next_event)
            if isinstance(event, FileChunk):
                yield event.data
            elif isinstance(event, FileEnd):
                return
            else:
                raise BadRequestError("file", "the body ended inside the file part")

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self._max_parts:
            raise BadRequestError("body", f"at most {self._max_parts} parts are accepted")
        self._disposition = b""
        self._part_type = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.lower()
        if name == b"content-disposition":
            self._disposition = self._header_value
        elif name == b"content-type":
            self._part_type = self._header_value.decode("latin-1")
        self._header_name = b""
        self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise BadRequestError("body", "every part needs a Content-Disposition name")
        self._name = _decode(options[b"name"], "part name")
        if b"filename" in options:
            filename = _decode(options[b"filename"], "file")
            self._in_file = True
            self._field = None
            self._events.append(FileStart(self._name, filename, self._part_type))
        else:
            self._field = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is None:
            self._events.append(FileChunk(bytes(data[start:end])))
            return
        self._field.extend(data[start:end])
        if len(self._field) > self._max_field_bytes:
            raise BadRequestError(self._name, f"must be at most {self._max_field_bytes} bytes")

    def _on_part_end(self) -> None:
        if self._field is None:
            self._in_file = False
            self._events.append(FileEnd())
        else:
            self._events.append(FormField(self._name, _decode(bytes(self._field), self._name)))
            self._field = None
