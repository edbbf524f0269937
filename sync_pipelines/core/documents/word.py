"""Word documents: ``.docx`` through mammoth's HTML into markdown, ``.doc`` through LibreOffice.

mammoth turns the document's styles into HTML (``Heading 1`` into ``<h1>``, numbered and
bulleted paragraphs into lists, bold and italic runs, tables), which becomes markdown with
ATX headings, ``-`` bullets and GitHub tables. Pictures are read by OCR and their text put
where the picture is; pictures without text are dropped.
"""

import io
import re
from typing import Any

from bs4 import BeautifulSoup, Tag
from markdownify import ATX, MarkdownConverter

from sync_pipelines.core.documents import legacy
from sync_pipelines.core.documents.builder import markdown_table
from sync_pipelines.core.documents.errors import (
    ParseError,
    check_not_encrypted_ooxml,
    open_zip,
)
from sync_pipelines.core.documents.ocr import ocr_image
from sync_pipelines.core.types import ParsedDocument

DOCX_LABEL = "Word document"
DOC_LABEL = "Word 97-2003 document"
_OCR_ATTRIBUTE = "data-ocr-text"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# What LibreOffice is given for a .doc: OLE compound files (Word 6 to 2003), RTF and HTML or
# XML saved under a .doc name, and the Word 2 and Word for DOS signatures. Anything else it
# would import as plain text, so it is refused instead.
_DOC_SIGNATURES = (_OLE_MAGIC, b"{\\rtf", b"\xdb\xa5", b"\x31\xbe")
_MARKUP_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<")
_EXCESS_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_MAX_TABLE_SPAN = 1000


def parse_docx(key: str, data: bytes) -> ParsedDocument:
    """Parse a Word document (``.docx``) into markdown.

    Headings become ``#`` headings, lists ``-`` or ``1.`` items, tables markdown tables and
    bold or italic runs ``**``/``*``; footnotes and comments follow the body. Each picture is
    replaced by the text OCR reads in it, as a paragraph of its own.

    Args:
        key: The document's key, for errors.
        data: The ``.docx`` bytes.

    Returns:
        The document as markdown, without locations (Word files have no fixed pages).

    Raises:
        ParseError: The file is password-protected, not a zip archive or too large unpacked.
    """
    import mammoth

    check_not_encrypted_ooxml(key, data, DOCX_LABEL)
    open_zip(key, data, DOCX_LABEL).close()
    result = mammoth.convert_to_html(io.BytesIO(data), convert_image=_ocr_picture)
    return ParsedDocument(html_to_markdown(result.value), "markdown")


def parse_doc(key: str, data: bytes) -> ParsedDocument:
    """Parse a Word 97-2003 document (``.doc``): LibreOffice converts it to ``.docx`` first.

    A password-protected file is recognised without LibreOffice (by ``msoffcrypto-tool``),
    and bytes that are no Word file (LibreOffice would import them as plain text) are
    refused. A ``.docx`` saved under a ``.doc`` name is parsed as one.

    Args:
        key: The document's key, for errors.
        data: The ``.doc`` bytes.

    Returns:
        The document as markdown, as :func:`parse_docx` gives it.

    Raises:
        ParseError: The file is encrypted, is no Word file, or LibreOffice is missing or
            cannot read it.
    """
    if data.startswith(b"PK\x03\x04"):
        return parse_docx(key, data)
    if not (data.startswith(_DOC_SIGNATURES) or _MARKUP_START.match(data[:4096])):
        raise ParseError(key, f"corrupt {DOC_LABEL} (not a Word file: unknown signature)")
    if data.startswith(_OLE_MAGIC) and _ole_encrypted(data):
        raise ParseError(key, f"encrypted {DOC_LABEL} (a password is required)")
    return parse_docx(key, legacy.convert(key, data, ".doc", ".docx", DOC_LABEL))


def _ole_encrypted(data: bytes) -> bool:
    """Whether msoffcrypto-tool finds the OLE file password-protected (``False`` if unsure)."""
    try:
        import msoffcrypto
    except ImportError:  # optional: LibreOffice then reports it cannot read the file
        return False
    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted())
    except Exception:  # a damaged file: let LibreOffice give its verdict
        return False


def _ocr_picture(image: Any) -> list[Any]:
    """Mammoth's image hook: an ``<img>`` carrying the picture's OCR text, or nothing."""
    from mammoth import html

    try:
        with image.open() as stream:
            text = ocr_image(stream.read()).strip()
    except MemoryError:
        raise
    except Exception:  # a picture Pillow cannot decode (EMF, WMF, damaged) holds no text
        return []
    return [html.element("img", {_OCR_ATTRIBUTE: text})] if text else []


def html_to_markdown(html: str) -> str:
    """Markdown for document HTML (mammoth's, an ebook's): ATX headings, ``-`` bullets.

    Tables become :func:`~sync_pipelines.core.documents.builder.markdown_table` tables (first
    row as header, merged cells as empty ones). An ``<img>`` gives the OCR text mammoth's
    image hook stored in its ``data-ocr-text`` attribute, and nothing without one.

    Args:
        html: The HTML.

    Returns:
        The markdown, lines right-stripped and at most one blank line in a row.
    """
    soup = BeautifulSoup(html, "html.parser")
    markdown = _DocxConverter(heading_style=ATX, bullets="-").convert_soup(soup)
    lines = [line.rstrip() for line in markdown.replace("\r\n", "\n").split("\n")]
    return _EXCESS_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


class _DocxConverter(MarkdownConverter):
    """markdownify with OCR text for pictures and tables rendered by :func:`markdown_table`."""

    def process_tag(self, node: Tag, parent_tags: set[str] | None = None) -> str:
        if node.name == "table":  # rendered whole, without converting its rows twice
            table = markdown_table(self._table_rows(node))
            return f"\n\n{table}\n\n" if table else ""
        base: Any = super()  # markdownify's stubs leave out its tree walk
        return str(base.process_tag(node, parent_tags))

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        ocr = str(el.get(_OCR_ATTRIBUTE) or "").strip()
        if not ocr:
            return ""
        if "_inline" in parent_tags:
            return " " + " ".join(ocr.split()) + " "
        return f"\n\n{ocr}\n\n"

    def _cell_markdown(self, cell: Tag) -> str:
        walker: Any = self
        parts = [str(walker.process_element(child, parent_tags={"td"})) for child in cell.children]
        return re.sub(r"\s*\n\s*", "\n", "".join(parts)).strip()

    def _table_rows(self, table: Tag) -> list[list[str]]:
        """The table's cells row by row, merged cells repeated as empty ones."""
        rows: list[list[str]] = []
        pending: dict[int, int] = {}  # column -> rows a cell above still spans
        for tr in table.find_all("tr"):
            if tr.find_parent("table") is not table:
                continue  # a row of a nested table
            row: list[str] = []
            for cell in tr.find_all(["td", "th"], recursive=False):
                while pending.get(len(row), 0) > 0:
                    pending[len(row)] -= 1
                    row.append("")
                colspan = _span(cell.get("colspan"))
                rowspan = _span(cell.get("rowspan"))
                for offset in range(colspan):
                    if rowspan > 1:
                        pending[len(row) + offset] = rowspan - 1
                row.extend([self._cell_markdown(cell)] + [""] * (colspan - 1))
            for column, left in pending.items():
                if left > 0 and column >= len(row):  # spanned into from above, past the end
                    pending[column] = left - 1
            rows.append(row)
        return rows


def _span(value: object) -> int:
    text = str(value or "1")
    return max(1, min(_MAX_TABLE_SPAN, int(text))) if text.isdigit() else 1
