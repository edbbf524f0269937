"""Turn a fetched object's bytes into text ready to chunk.

Documents of a registered type (PDF, Office, OpenDocument, CSV, EPUB, images: see
:mod:`~sync_pipelines.core.documents.registry`) are parsed to markdown by their parser, HTML
is converted to markdown with markdownify (navigation and footers dropped), and everything
else must be strict UTF-8 text.
Anything that cannot become text raises :class:`ParseError`, whose message names the object
and the reason.
"""

import codecs
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from bs4 import BeautifulSoup, UnicodeDammit
from markdownify import ATX, MarkdownConverter

from sync_pipelines.core.documents.errors import UTF8_BOM, ParseError, decode_utf8
from sync_pipelines.core.documents.registry import format_for, parse_with
from sync_pipelines.core.types import ParsedDocument

__all__ = ["ParseError", "check_text_file", "detect_language", "parse_object", "text_lines"]

_EXTENSION_LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".cs": "csharp",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".rb": "ruby",
    ".php": "php",
    ".lua": "lua",
    ".sh": "bash",
    ".bash": "bash",
    ".sql": "sql",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "markdown",
    ".rst": "rst",
    ".html": "html",
    ".htm": "html",
    ".xml": "xml",
    ".css": "css",
    ".scss": "scss",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
}

_FILENAME_LANGUAGES: dict[str, str] = {
    "dockerfile": "dockerfile",
    "makefile": "make",
}

_HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_DROPPED_TAGS = ("head", "title", "script", "style", "noscript", "template", "nav", "footer")
_HTML_DROPPED_ROLES = ("navigation", "contentinfo", "search")
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_EXCESS_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


def detect_language(key: str) -> str | None:
    """Guess a document's language from its key's file name.

    Args:
        key: An object key, repository path or URL path.

    Returns:
        A language name such as ``"python"``, ``"tsx"`` or ``"markdown"``, or ``None`` for
        plain text and unknown extensions.
    """
    name = PurePosixPath(key.split("?", 1)[0].split("#", 1)[0]).name.lower()
    if name in _FILENAME_LANGUAGES:
        return _FILENAME_LANGUAGES[name]
    return _EXTENSION_LANGUAGES.get(PurePosixPath(name).suffix)


def parse_object(
    key: str, data: bytes, content_type: str | None = None, *, images: bool = True
) -> ParsedDocument:
    """Extract the text of one fetched object.

    Args:
        key: The object's key; its suffix selects the parser and the language.
        data: The object's raw bytes.
        content_type: The MIME type reported by the source, if any (parameters allowed).
        images: OCR image files; when ``False`` they are read as text (and so fail as
            binary), as repository syncs want for their icons and screenshots.

    Returns:
        The document text with CRLF line endings normalised to LF. Registered document
        types and HTML are returned as markdown (language ``"markdown"``) with their pages,
        slides or sheets in ``locations``; other text keeps the language of its key.

    Raises:
        ParseError: The bytes are a corrupt, encrypted or oversize document, not valid UTF-8,
            or binary.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    language = detect_language(key)
    fmt = format_for(key, content_type, data[:8])
    if fmt is not None and (images or not fmt.parser.endswith(":parse_image")):
        if not data:
            return ParsedDocument("", "markdown")
        return parse_with(fmt, key, data)
    if not data:
        return ParsedDocument("", "markdown" if language == "html" else language)
    if language == "html" or mime in _HTML_CONTENT_TYPES or _looks_like_html(language, data):
        html = _decode_html(key, data, content_type or "")
        return ParsedDocument(_normalise(_html_to_markdown(html)), "markdown")
    return ParsedDocument(_normalise(decode_utf8(key, data)), language)


_READ_BLOCK = 1024 * 1024


def is_plain_text(key: str, head: bytes, content_type: str | None = None) -> bool:
    """Whether :func:`parse_object` would read an object as UTF-8 text (no document, no HTML).

    Args:
        key: The object's key.
        head: The object's first bytes (512 are enough).
        content_type: The MIME type reported by the source, if any.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    language = detect_language(key)
    if format_for(key, content_type, head) is not None:
        return False
    html = language == "html" or mime in _HTML_CONTENT_TYPES
    return not (html or _looks_like_html(language, head))


def check_text_file(key: str, path: Path) -> None:
    """Check a file is text :func:`parse_object` accepts, reading it block by block.

    Raises:
        ParseError: The same error :func:`parse_object` raises on the file's bytes.
    """
    with path.open("rb") as file:
        offset = 0
        while block := file.read(_READ_BLOCK):
            nul = block.find(b"\x00")
            if nul >= 0:
                raise ParseError(key, f"binary content (NUL byte at offset {offset + nul})")
            offset += len(block)
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as file:
        skip = len(UTF8_BOM) if file.read(len(UTF8_BOM)) == UTF8_BOM else 0
        file.seek(skip)
        fed = skip
        while True:
            block = file.read(_READ_BLOCK)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                at = fed - pending + exc.start
                raise ParseError(
                    key,
                    f"not valid UTF-8 text ({exc.reason} 0x{exc.object[exc.start]:02x} "
                    f"at offset {at})",
                ) from None
            if not block:
                return
            fed += len(block)


def text_lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file, as splitting ``parse_object(...).text`` on LF gives them.

    The file must have passed :func:`check_text_file`; only one line is held at a time.
    """
    with path.open(encoding="utf-8-sig", newline="\n") as file:
        line = ""
        for line in file:
            yield line[:-2] if line.endswith("\r\n") else line.removesuffix("\n")
        if not line or line.endswith("\n"):
            yield ""


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n")


def _decode_html(key: str, data: bytes, content_type: str) -> str:
    try:
        return decode_utf8(key, data)
    except ParseError as exc:
        if exc.reason.startswith("binary content"):
            raise
        declared = _CHARSET.search(content_type)
        dammit = UnicodeDammit(data, [declared.group(1)] if declared else [], is_html=True)
        if dammit.unicode_markup is None:
            raise
        return dammit.unicode_markup


def _looks_like_html(language: str | None, data: bytes) -> bool:
    if language is not None:
        return False
    head = data[:512].removeprefix(UTF8_BOM).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _html_to_markdown(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_HTML_DROPPED_TAGS):
        tag.decompose()
    for tag in soup.find_all(role=list(_HTML_DROPPED_ROLES)):
        tag.decompose()
    markdown = MarkdownConverter(heading_style=ATX, bullets="-").convert_soup(soup)
    lines = [line.rstrip() for line in markdown.replace("\r\n", "\n").split("\n")]
    return _EXCESS_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")
