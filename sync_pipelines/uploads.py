"""Durable storage of files received by ``POST /api/v1/add-file``.

An upload is streamed to a temporary file, checked against its declared size, fsynced and
renamed into place before its invocation is recorded, so an accepted upload survives a crash.
The pipeline reads it back by its key. Files live under ``<home>/uploads`` by default. An
upload's folder is created only once its first bytes arrive, and removed when it is refused.
"""

import os
import re
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(ValueError):
    """An upload was refused; ``field`` names the offending request part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UploadTooLargeError(UploadError):
    """The upload exceeds the size limit."""


@dataclass(frozen=True)
class StoredUpload:
    """Where an upload was stored, and its size in bytes."""

    key: str
    size: int


def _safe_name(filename: str) -> str:
    name = _UNSAFE.sub("_", Path(filename).name).strip("._") or "file"
    return name[:120]


class UploadStore:
    """Uploaded files on a local (or shared) filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(
        self,
        database_name: str,
        filename: str,
        chunks: Iterable[bytes],
        *,
        declared_size: int,
        max_bytes: int = MAX_UPLOAD_BYTES,
    ) -> StoredUpload:
        """Store an upload, enforcing its declared size.

        Args:
            database_name: Database the upload belongs to.
            filename: The client's file name (only its last path part is kept, sanitised).
            chunks: The file's bytes, streamed.
            declared_size: ``x-upload-content-length``; the stored size must equal it.
            max_bytes: Upper bound on any upload.

        Returns:
            The stored upload's key and size.

        Raises:
            UploadTooLargeError: More bytes than ``declared_size`` or ``max_bytes``.
            UploadError: Fewer bytes than declared.
        """
        key = f"{_safe_name(database_name)}/{uuid.uuid4().hex}/{_safe_name(filename)}"
        target = self.root / key
        limit = min(declared_size, max_bytes)
        size = 0
        out: BinaryIO | None = None
        tmp: Path | None = None
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > limit:
                    raise UploadTooLargeError(
                        "file",
                        f"file is larger than the declared x-upload-content-length "
                        f"({declared_size} bytes)"
                        if size > declared_size
                        else f"file is larger than the {max_bytes}-byte limit",
                    )
                if out is None:
                    out, tmp = self._open_temp(target.parent)
                out.write(chunk)
            if size != declared_size:
                raise UploadError(
                    "x-upload-content-length",
                    f"x-upload-content-length declares {declared_size} bytes "
                    f"but the file has {size}",
                )
            if out is None:
                out, tmp = self._open_temp(target.parent)
            out.flush()
            os.fsync(out.fileno())
            out.close()
            assert tmp is not None
            os.replace(tmp, target)
        except BaseException:
            if out is not None:
                out.close()
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            self._prune(target.parent)
            raise
        return StoredUpload(key=key, size=size)

    def discard(self, key: str) -> None:
        """Delete a stored upload and its folders once they are empty."""
        target = self.path(key)
        target.unlink(missing_ok=True)
        self._prune(target.parent)

    @staticmethod
    def _open_temp(folder: Path) -> tuple[BinaryIO, Path]:
        """Create ``folder`` and a temporary file in it, only once there are bytes to write."""
        for attempt in range(3):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                break
            except FileNotFoundError:
                # A refused upload of the same database pruned the parent in between.
                if attempt == 2:
                    raise
        fd, name = tempfile.mkstemp(dir=folder, prefix=".upload-")
        return os.fdopen(fd, "wb"), Path(name)

    def _prune(self, folder: Path) -> None:
        """Remove ``folder`` (an upload's own) and its database folder if they are empty."""
        root = self.root.resolve()
        folder = folder.resolve()
        for empty in (folder, folder.parent):
            if root not in empty.parents:
                return
            try:
                empty.rmdir()
            except OSError:
                return

    def path(self, key: str) -> Path:
        """Return the stored file's path (refusing keys that escape the store)."""
        target = (self.root / key).resolve()
        if self.root.resolve() not in target.parents:
            raise UploadError("key", f"invalid upload key {key!r}")
        return target

    def read(self, key: str) -> bytes:
        """Return a stored upload's bytes.

        Raises:
            FileNotFoundError: No upload has that key.
        """
        return self.path(key).read_bytes()
