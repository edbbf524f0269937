"""One registry of document formats by file suffix (and MIME type, for URLs without one).

Every path that parses bytes (S3 objects, uploaded files, repository files and documents
linked from crawled pages) goes through :func:`format_for` and :func:`parse_with`, so a type
is added here once. Parsers are imported only when a document of their type is parsed: they
pull in large libraries that most syncs never need.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import cast

from sync_pipelines.core.documents.errors import ParseError, open_zip
from sync_pipelines.core.types import ParsedDocument

Parser = Callable[[str, bytes], ParsedDocument]


@dataclass(frozen=True)
class DocumentFormat:
    """A document type the registry parses.

    Attributes:
        suffix: The file suffix, lowercase with its dot (``".docx"``).
        label: What errors call a document of this type (``"Word document"``).
        parser: ``"module:function"`` of the parser, a :data:`Parser`.
        mime_types: MIME types that select it when a key has no known suffix.
    """

    suffix: str
    label: str
    parser: str
    mime_types: tuple[str, ...] = ()


_P = "sync_pipelines.core.documents"
_FORMATS: tuple[DocumentFormat, ...] = (
    DocumentFormat(".pdf", "PDF", f"{_P}.pdf:parse_pdf", ("application/pdf",)),
    DocumentFormat(
        ".docx",
        "Word document",
        f"{_P}.word:parse_docx",
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    ),
    DocumentFormat(
        ".doc", "Word 97-2003 document", f"{_P}.word:parse_doc", ("application/msword",)
    ),
    DocumentFormat(
        ".odt",
        "OpenDocument text",
        f"{_P}.odf:parse_odt",
        ("application/vnd.oasis.opendocument.text",),
    ),
    DocumentFormat(
        ".xlsx",
        "Excel workbook",
        f"{_P}.sheets:parse_xlsx",
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
    ),
    DocumentFormat(
        ".xlsm",
        "Excel macro-enabled workbook",
        f"{_P}.sheets:parse_xlsx",
        ("application/vnd.ms-excel.sheet.macroenabled.12",),
    ),
    DocumentFormat(
        ".xltx",
        "Excel template",
        f"{_P}.sheets:parse_xlsx",
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.template",),
    ),
    DocumentFormat(
        ".xls", "Excel 97-2003 workbook", f"{_P}.sheets:parse_xls", ("application/vnd.ms-excel",)
    ),
    DocumentFormat(".csv", "CSV file", f"{_P}.sheets:parse_csv", ("text/csv",)),
    DocumentFormat(
        ".ods",
        "OpenDocument spreadsheet",
        f"{_P}.odf:parse_ods",
        ("application/vnd.oasis.opendocument.spreadsheet",),
    ),
    DocumentFormat(
        ".pptx",
        "PowerPoint presentation",
        f"{_P}.slides:parse_pptx",
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    ),
    DocumentFormat(
        ".ppt",
        "PowerPoint 97-2003 presentation",
        f"{_P}.slides:parse_ppt",
        ("application/vnd.ms-powerpoint",),
    ),
    DocumentFormat(
        ".odp",
        "OpenDocument presentation",
        f"{_P}.odf:parse_odp",
        ("application/vnd.oasis.opendocument.presentation",),
    ),
    DocumentFormat(".epub", "EPUB ebook", f"{_P}.ebook:parse_epub", ("application/epub+zip",)),
    DocumentFormat(".png", "PNG image", f"{_P}.images:parse_image", ("image/png",)),
    DocumentFormat(".jpg", "JPEG image", f"{_P}.images:parse_image", ("image/jpeg",)),
    DocumentFormat(".jpeg", "JPEG image", f"{_P}.images:parse_image"),
    DocumentFormat(".webp", "WebP image", f"{_P}.images:parse_image", ("image/webp",)),
    DocumentFormat(".gif", "GIF image", f"{_P}.images:parse_image", ("image/gif",)),
    DocumentFormat(".tiff", "TIFF image", f"{_P}.images:parse_image", ("image/tiff",)),
    DocumentFormat(".tif", "TIFF image", f"{_P}.images:parse_image"),
)

FORMATS_BY_SUFFIX: dict[str, DocumentFormat] = {fmt.suffix: fmt for fmt in _FORMATS}
_FORMATS_BY_MIME: dict[str, DocumentFormat] = {
    mime: fmt for fmt in _FORMATS for mime in fmt.mime_types
}
DOCUMENT_MIME_TYPES: frozenset[str] = frozenset(_FORMATS_BY_MIME)
"""MIME types of every registered format (the crawler keeps such responses as documents)."""


def key_suffix(key: str) -> str:
    """The lowercase suffix of a key, path or URL path (query and fragment ignored)."""
    path = key.split("?", 1)[0].split("#", 1)[0]
    return PurePosixPath(path).suffix.lower()


def format_for(
    key: str, content_type: str | None = None, head: bytes = b""
) -> DocumentFormat | None:
    """The registered format of a document, or ``None`` for text and HTML.

    The key's suffix decides, as the hosted service does; a key without a registered suffix
    falls back to its MIME type, then to the PDF signature of its first bytes.

    Args:
        key: Object key, repository path or URL.
        content_type: The MIME type the source reported, parameters allowed.
        head: The document's first bytes, when known.
    """
    by_suffix = FORMATS_BY_SUFFIX.get(key_suffix(key))
    if by_suffix is not None:
        return by_suffix
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in _FORMATS_BY_MIME:
        return _FORMATS_BY_MIME[mime]
    if head.startswith(b"%PDF-"):
        return FORMATS_BY_SUFFIX[".pdf"]
    return None


def parse_with(fmt: DocumentFormat, key: str, data: bytes) -> ParsedDocument:
    """Parse a document with its format's parser.

    Raises:
        ParseError: The parser's own reason (encrypted, too many pages, ...), or
            ``corrupt <label> (<what the library said>)`` for anything the library raised.
    """
    module_name, _, name = fmt.parser.partition(":")
    parser = cast(Parser, getattr(importlib.import_module(module_name), name))
    try:
        if data.startswith(b"PK\x03\x04"):  # every zip-based format: refuse zip bombs first
            open_zip(key, data, fmt.label).close()
        return parser(key, data)
    except ParseError:
        raise
    except MemoryError:
        raise ParseError(key, f"{fmt.label} too large to parse in memory") from None
    except Exception as exc:  # parser libraries raise many unrelated types for damaged files
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ParseError(key, f"corrupt {fmt.label} ({reason})") from None
