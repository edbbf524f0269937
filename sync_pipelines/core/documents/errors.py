"""The error every parser raises for bytes it cannot turn into text, and the checks they share."""

import io
import zipfile

MAX_PAGES = 7000
"""Most pages (PDF pages, slides) one document may have, as the hosted service allows."""


class ParseError(Exception):
    """An object whose bytes cannot be turned into text.

    Attributes:
        key: The object key (S3 key, repository path or page URL).
        reason: Why it could not be parsed, e.g. ``"binary content (NUL byte at offset 3)"``
            or ``"encrypted Word document (a password is required)"``.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def check_page_count(key: str, pages: int, unit: str = "pages") -> None:
    """Refuse a document of more than :data:`MAX_PAGES` pages before reading them.

    Raises:
        ParseError: Naming the count and the limit.
    """
    if pages > MAX_PAGES:
        raise ParseError(key, f"document has {pages} {unit}, over the {MAX_PAGES}-page limit")


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_ENTRY_SIZE = 128
_OLE_STREAM = 2


def _ole_entry(name: str) -> tuple[bytes, bytes]:
    """The UTF-16 name of an OLE directory entry and its name length and stream type fields."""
    encoded = name.encode("utf-16-le")
    return encoded, (len(encoded) + 2).to_bytes(2, "little") + bytes([_OLE_STREAM])


_ENCRYPTION_STREAMS = (_ole_entry("EncryptionInfo"), _ole_entry("EncryptedPackage"))


def _has_ole_stream(data: bytes, entry: tuple[bytes, bytes]) -> bool:
    """Whether an OLE compound file has a stream directory entry of this name.

    Directory entries are 128-byte records at 128-byte boundaries of the file, and the format
    lets the directory sectors sit anywhere in it, so the whole file is searched; a match must
    sit on such a boundary and carry the entry's name length and stream type (the same words
    in a document's UTF-16 text are no entry).
    """
    name, fields = entry
    start = data.find(name)
    while start != -1:
        if start % _OLE_ENTRY_SIZE == 0 and data[start + 0x40 : start + 0x43] == fields:
            return True
        start = data.find(name, start + 1)
    return False


def check_not_encrypted_ooxml(key: str, data: bytes, label: str) -> None:
    """Refuse a password-protected Office Open XML file (``.docx``, ``.xlsx``, ``.pptx``).

    Office encrypts such files into an OLE compound file holding ``EncryptionInfo`` and
    ``EncryptedPackage`` streams instead of a zip archive.

    Raises:
        ParseError: ``encrypted <label> (a password is required)``.
    """
    if data.startswith(_OLE_MAGIC) and any(
        _has_ole_stream(data, entry) for entry in _ENCRYPTION_STREAMS
    ):
        raise ParseError(key, f"encrypted {label} (a password is required)")


MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
"""Most bytes the members of one zip-based document (EPUB, OpenDocument, .docx) may unpack to."""


def check_zip_size(key: str, archive: zipfile.ZipFile, label: str) -> None:
    """Refuse a zip bomb: members whose declared sizes add up to over :data:`MAX_UNZIPPED_BYTES`.

    :mod:`zipfile` never unpacks more than a member's declared size, so the declared sizes
    bound what reading every member costs.

    Raises:
        ParseError: Naming the total and the limit.
    """
    total = sum(info.file_size for info in archive.infolist())
    if total > MAX_UNZIPPED_BYTES:
        raise ParseError(
            key,
            f"{label} too large ({total // 2**20} MB uncompressed, over the "
            f"{MAX_UNZIPPED_BYTES // 2**20} MB limit)",
        )


UTF8_BOM = b"\xef\xbb\xbf"


def decode_utf8(key: str, data: bytes) -> str:
    """Decode strict UTF-8 text, a leading BOM dropped.

    Raises:
        ParseError: ``binary content (NUL byte at offset N)`` or
            ``not valid UTF-8 text (<reason> 0xNN at offset N)``.
    """
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ParseError(key, f"binary content (NUL byte at offset {nul})")
    skip = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        raise ParseError(
            key,
            f"not valid UTF-8 text ({exc.reason} 0x{data[offset]:02x} at offset {offset})",
        ) from None


def open_zip(key: str, data: bytes, label: str) -> zipfile.ZipFile:
    """Open a zip-based document, refusing non-zip bytes and zip bombs.

    Raises:
        ParseError: ``corrupt <label> (not a zip archive)``, or the :func:`check_zip_size`
            reason.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ParseError(key, f"corrupt {label} (not a zip archive)") from None
    try:
        check_zip_size(key, archive, label)
    except ParseError:
        archive.close()
        raise
    return archive
