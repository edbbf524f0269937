"""OpenDocument text, spreadsheets and presentations (``.odt``, ``.ods``, ``.odp``) with odfpy.

The document tree is walked into markdown blocks: headings at their outline level, paragraphs,
``-`` lists, tables as markdown tables, text boxes and shapes, and pictures as the text OCR
reads in them. Repeated rows and columns (``table:number-rows-repeated``, which LibreOffice
writes with counts up to a million for the empty rest of a sheet) are expanded only up to the
last cell with text. Deleted text of tracked changes, comments and tables of contents are
left out.
"""

import io
import re
import xml.etree.ElementTree as ElementTree
from typing import Any
from xml.parsers import expat

from odf.namespaces import (
    DRAWNS,
    MANIFESTNS,
    OFFICENS,
    PRESENTATIONNS,
    STYLENS,
    TABLENS,
    TEXTNS,
    XLINKNS,
)
from odf.opendocument import load

from sync_pipelines.core.documents.builder import MarkdownBuilder, markdown_table
from sync_pipelines.core.documents.errors import ParseError, check_page_count, open_zip
from sync_pipelines.core.documents.ocr import ocr_image
from sync_pipelines.core.types import ParsedDocument

_MAX_REPEAT = 1000  # copies of one non-empty cell or row (empty ones are never expanded)
_MAX_COLUMNS = 16384  # the widest sheet LibreOffice and Excel make
_SPACES = re.compile(r"[ \t\r\n]+")
_PARAGRAPHS = {(TEXTNS, "p"), (TEXTNS, "h")}
_ROW_GROUPS = {(TABLENS, n) for n in ("table-header-rows", "table-rows", "table-row-group")}
_CELLS = {(TABLENS, "table-cell"), (TABLENS, "covered-table-cell")}
_SKIPPED = {  # comments, deleted text of tracked changes, declarations, column styles...
    *((OFFICENS, name) for name in ("annotation", "annotation-end", "forms")),
    *((TEXTNS, name) for name in ("tracked-changes", "table-of-content", "sequence-decls",
                                  "variable-decls", "user-field-decls", "note-citation")),
    *((TABLENS, name) for name in ("table-column", "table-columns", "table-header-columns",
                                   "table-column-group", "shapes")),
    (DRAWNS, "page-thumbnail"),
}  # fmt: skip
_CLASS = (PRESENTATIONNS, "class")
# Placeholders a presentation fills in itself (slide number, footer, date).
_SKIPPED_CLASSES = {"page-number", "footer", "header", "date-time", "page"}


def parse_odt(key: str, data: bytes) -> ParsedDocument:
    """Parse an OpenDocument text (``.odt``) into markdown.

    Headings become ``#`` headings at their outline level, lists ``-`` items, tables markdown
    tables and pictures the text OCR reads in them; footnotes follow the body.

    Raises:
        ParseError: The file is encrypted, too large unpacked, or no OpenDocument text.
    """
    body = _body(key, data, "text", "OpenDocument text")
    walker = _Walker(body.ownerDocument)
    doc = MarkdownBuilder()
    doc.blocks(walker.blocks(body))
    doc.blocks(f"[{n}] {note}" for n, note in enumerate(walker.notes, start=1))
    return doc.build("markdown")


def parse_ods(key: str, data: bytes) -> ParsedDocument:
    """Parse an OpenDocument spreadsheet (``.ods``): a ``## <sheet>`` heading and table a sheet.

    Each sheet's cells, as they display, become one markdown table whose first row is its
    header; empty rows and trailing empty columns are dropped. Each sheet is a location.

    Raises:
        ParseError: The file is encrypted, too large unpacked, or no OpenDocument spreadsheet.
    """
    body = _body(key, data, "spreadsheet", "OpenDocument spreadsheet")
    walker = _Walker(body.ownerDocument)
    doc = MarkdownBuilder()
    for sheet in _children(body, {(TABLENS, "table")}):
        name = str(sheet.attributes.get((TABLENS, "name")) or "Sheet")
        doc.mark(sheet=name)
        doc.block(f"## {name}")
        doc.block(markdown_table(walker.table_rows(sheet)))
    return doc.build("markdown")


def parse_odp(key: str, data: bytes) -> ParsedDocument:
    """Parse an OpenDocument presentation (``.odp``): one section a slide, slides as locations.

    Each slide gives ``## Slide <n>: <title>`` (``## Slide <n>`` without a title), its text,
    tables and the OCR text of its pictures, then its speaker notes under ``### Notes``.

    Raises:
        ParseError: The file is encrypted, too large unpacked, has over
            :data:`~sync_pipelines.core.documents.errors.MAX_PAGES` slides, or is no
            OpenDocument presentation.
    """
    body = _body(key, data, "presentation", "OpenDocument presentation")
    slides = _children(body, {(DRAWNS, "page")})
    check_page_count(key, len(slides), "slides")
    walker = _Walker(body.ownerDocument)
    doc = MarkdownBuilder()
    for number, slide in enumerate(slides, start=1):
        title_frame = _find_title(slide)
        title = " ".join(walker.text(title_frame).split()) if title_frame is not None else ""
        doc.mark(page=number)
        doc.block(f"## Slide {number}: {title}" if title else f"## Slide {number}")
        notes: list[str] = []
        for child in slide.childNodes:
            if child is title_frame:
                continue
            if getattr(child, "qname", None) == (PRESENTATIONNS, "notes"):
                notes.extend(walker.blocks(child))
            else:
                doc.blocks(walker.block(child))
        if notes:
            doc.block("### Notes")
            doc.blocks(notes)
    return doc.build("markdown")


def _body(key: str, data: bytes, kind: str, label: str) -> Any:
    """Check and load the document; its ``office:<kind>`` element."""
    with open_zip(key, data, label) as archive:
        names = set(archive.namelist())
        if "META-INF/manifest.xml" not in names or "content.xml" not in names:
            raise ParseError(key, f"corrupt {label} (no manifest or content.xml)")
        try:
            manifest = ElementTree.fromstring(archive.read("META-INF/manifest.xml"))
        except ElementTree.ParseError as exc:
            raise ParseError(key, f"corrupt {label} (manifest: {exc})") from None
        if manifest.find(f".//{{{MANIFESTNS}}}encryption-data") is not None:
            raise ParseError(key, f"encrypted {label} (a password is required)")
        # odfpy prints a part it cannot parse to stdout and goes on: check them first.
        for part in ("content.xml", "styles.xml", "meta.xml", "settings.xml"):
            if part in names:
                try:
                    expat.ParserCreate().Parse(archive.read(part), True)
                except expat.ExpatError as exc:
                    raise ParseError(key, f"corrupt {label} ({part}: {exc})") from None
    document = load(io.BytesIO(data))
    body = getattr(document, kind, None)
    if body is None or getattr(body, "qname", None) != (OFFICENS, kind):
        raise ParseError(key, f"corrupt {label} (no {kind} body; another OpenDocument type?)")
    return body


def _children(element: Any, names: set[tuple[str, str]]) -> list[Any]:
    return [child for child in element.childNodes if getattr(child, "qname", None) in names]


def _find_title(slide: Any) -> Any:
    """The slide's title frame (``presentation:class="title"``), in groups too."""
    for child in slide.childNodes:
        qname = getattr(child, "qname", None)
        if qname == (DRAWNS, "frame") and child.attributes.get(_CLASS) == "title":
            return child
        if qname == (DRAWNS, "g"):
            found = _find_title(child)
            if found is not None:
                return found
    return None


def _number(value: object) -> int:
    """A positive count attribute; 1 when missing or malformed."""
    text = str(value or "1")
    return max(1, int(text)) if text.isdigit() else 1


def _repeat(element: Any, attribute: str) -> int:
    return _number(element.attributes.get((TABLENS, attribute)))


class _Walker:
    """Turns elements of one loaded document into markdown blocks."""

    def __init__(self, document: Any) -> None:
        self._pictures: dict[str, Any] = dict(getattr(document, "Pictures", {}) or {})
        self.notes: list[str] = []
        self._numbered: set[tuple[str, int]] = set()  # (list style, level) numbered 1. 2. ...
        for part in (getattr(document, "automaticstyles", None), getattr(document, "styles", None)):
            for style in _children(part, {(TEXTNS, "list-style")}) if part else []:
                name = str(style.attributes.get((STYLENS, "name")))
                for level in _children(style, {(TEXTNS, "list-level-style-number")}):
                    self._numbered.add((name, _number(level.attributes.get((TEXTNS, "level")))))

    def blocks(self, element: Any) -> list[str]:
        """The markdown blocks of an element's children."""
        out: list[str] = []
        for child in element.childNodes:
            out.extend(self.block(child))
        return out

    def block(self, element: Any) -> list[str]:
        """The markdown blocks of one element."""
        qname = getattr(element, "qname", None)
        if qname is None or qname in _SKIPPED:
            return []
        if qname in _PARAGRAPHS:
            frames: list[Any] = []
            text = self._inline(element, frames).strip()
            if text and qname == (TEXTNS, "h"):
                level = min(6, _number(element.attributes.get((TEXTNS, "outline-level"))))
                text = "#" * level + " " + " ".join(text.split())
            out = [text] if text else []
            for frame in frames:
                out.extend(self.block(frame))
            return out
        if qname == (TEXTNS, "list"):
            return ["\n".join(self._list(element, 0, ""))]
        if qname == (TABLENS, "table"):
            return [markdown_table(self.table_rows(element))]
        if qname == (DRAWNS, "frame"):
            return self._frame(element)
        if qname == (DRAWNS, "image"):
            return self._image(element)
        return self.blocks(element)  # sections, text boxes, groups, shapes, note bodies...

    def text(self, element: Any) -> str:
        """An element's blocks as one text, lines joined by newlines."""
        return "\n".join(self.blocks(element)).strip()

    def table_rows(self, table: Any) -> list[list[str]]:
        """A table's cells row by row; empty rows and trailing empty cells are left out."""
        rows: list[list[str]] = []
        for row in self._rows(table):
            cells = self._row_cells(row)
            if any(cells):
                rows.extend([cells] * min(_repeat(row, "number-rows-repeated"), _MAX_REPEAT))
        return rows

    def _rows(self, element: Any) -> list[Any]:
        rows: list[Any] = []
        for child in element.childNodes:
            qname = getattr(child, "qname", None)
            if qname == (TABLENS, "table-row"):
                rows.append(child)
            elif qname in _ROW_GROUPS:
                rows.extend(self._rows(child))
        return rows

    def _row_cells(self, row: Any) -> list[str]:
        cells: list[str] = []
        gap = 0  # empty cells not yet known to come before a filled one
        for cell in _children(row, _CELLS):
            repeat = _repeat(cell, "number-columns-repeated")
            text = self.text(cell)
            if not text:
                gap += repeat
                continue
            cells.extend([""] * min(gap, _MAX_COLUMNS))
            cells.extend([text] * min(repeat, _MAX_REPEAT))
            gap = 0
            if len(cells) >= _MAX_COLUMNS:
                break
        return cells[:_MAX_COLUMNS]

    def _list(self, element: Any, depth: int, style: str) -> list[str]:
        """A list's lines: ``-`` or ``1.`` items (by its list style), nested lists indented."""
        lines: list[str] = []
        indent = "  " * depth
        style = str(element.attributes.get((TEXTNS, "style-name")) or style)
        items = _children(element, {(TEXTNS, "list-item"), (TEXTNS, "list-header")})
        for number, item in enumerate(items, start=1):
            marker = f"{number}. " if (style, depth + 1) in self._numbered else "- "
            first = True
            for child in item.childNodes:
                if getattr(child, "qname", None) == (TEXTNS, "list"):
                    lines.extend(self._list(child, depth + 1, style))
                    continue
                for block in self.block(child):
                    block = block.lstrip("#").strip() if child.qname == (TEXTNS, "h") else block
                    prefix = indent + (marker if first else " " * len(marker))
                    lines.append(prefix + block.replace("\n", "\n" + " " * len(prefix)))
                    first = False
        return lines

    def _frame(self, frame: Any) -> list[str]:
        """A frame's first representation: text box, table, embedded object or picture."""
        if frame.attributes.get(_CLASS) in _SKIPPED_CLASSES:
            return []
        for child in frame.childNodes:
            qname = getattr(child, "qname", None)
            if qname in ((DRAWNS, "text-box"), (TABLENS, "table"), (DRAWNS, "image")):
                return self.block(child)
            if qname in ((DRAWNS, "object"), (DRAWNS, "object-ole"), (DRAWNS, "plugin")):
                return []  # charts and embedded files (their preview image is not read)
        return []

    def _image(self, image: Any) -> list[str]:
        out: list[str] = []
        picture = self._pictures.get(str(image.attributes.get((XLINKNS, "href")) or ""))
        if picture is not None and isinstance(picture[1], bytes):
            out.extend(_ocr(picture[1]))
        return out + self.blocks(image)  # text typed on the picture

    def _inline(self, element: Any, frames: list[Any]) -> str:
        """A paragraph's text; its frames and shapes are collected in ``frames``."""
        parts: list[str] = []
        for child in element.childNodes:
            qname = getattr(child, "qname", None)
            if qname is None:
                parts.append(_SPACES.sub(" ", str(getattr(child, "data", ""))))
            elif qname in _SKIPPED:
                continue
            elif qname == (TEXTNS, "s"):
                parts.append(" " * min(_number(child.attributes.get((TEXTNS, "c"))), 100))
            elif qname == (TEXTNS, "tab"):
                parts.append(" ")
            elif qname == (TEXTNS, "line-break"):
                parts.append("\n")
            elif qname == (TEXTNS, "note"):
                body = _children(child, {(TEXTNS, "note-body")})
                note = " ".join(self.text(body[0]).split()) if body else ""
                if note:
                    self.notes.append(note)
                    parts.append(f"[{len(self.notes)}]")
            elif qname[0] == DRAWNS:
                frames.append(child)
            else:
                parts.append(self._inline(child, frames))  # spans, links, fields
        return "\n".join(line.strip() for line in "".join(parts).split("\n"))


def _ocr(data: bytes) -> list[str]:
    try:
        text = ocr_image(data).strip()
    except MemoryError:
        raise
    except Exception:  # a picture Pillow cannot decode (SVM, WMF, damaged) holds no text
        return []
    return [text] if text else []
