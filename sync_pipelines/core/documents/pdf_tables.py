"""Page objects and ruled tables of PDF pages, for :mod:`~sync_pipelines.core.documents.pdf`.

pdfplumber (pdfminer.six underneath) finds tables from the lines and rectangles a page draws,
but it interprets the whole page in Python, about 100 times slower than pdfium reads its
text. So :func:`walk_objects` first counts a page's straight vector paths with pypdfium2
(and lists its pictures for OCR on the way), and only a page with horizontal and vertical
rules is handed to :class:`TableFinder`. The pdfium calls here must run under the caller's
``PDFIUM_LOCK``; pdfplumber's need not.
"""

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pypdfium2.raw as pdfium_c

from sync_pipelines.core.documents.builder import markdown_table

logger = logging.getLogger(__name__)

_MAX_SEGMENTS = 256  # a path with more segments is a drawing, not a rule
_THIN = 3.0  # points: a path this thin in one direction is a rule
_MIN_RULES = 2  # horizontal and vertical rules a page needs before pdfplumber looks at it
_MARGIN = 1.0  # points a character may stick out of a table and still be inside it
_MAX_OBJECTS = 50_000  # page objects walked per page
_MAX_FORM_DEPTH = 4


@dataclass(frozen=True)
class PdfTable:
    """A table found on a page.

    Attributes:
        bbox: Left, bottom, right, top in PDF user space (points, y up), as pdfium reports
            character positions.
        markdown: The table as a GitHub markdown table, its first row the header.
    """

    bbox: tuple[float, float, float, float]
    markdown: str

    @property
    def top(self) -> float:
        """The table's top edge (y up)."""
        return self.bbox[3]

    def contains(self, x: float, y: float) -> bool:
        """Whether a point (a character's centre) lies inside the table."""
        left, bottom, right, top = self.bbox
        return left - _MARGIN <= x <= right + _MARGIN and bottom - _MARGIN <= y <= top + _MARGIN


class Ruling:
    """Counts the straight rules among a page's path objects (pdfium calls only).

    A path made of straight segments only counts as a horizontal rule when it is thin and
    wide, a vertical one when thin and tall, and both (as many times as it has sides) when it
    is a rectangle or a grid. A path with a curve is artwork and does not count.
    """

    def __init__(self) -> None:
        self.horizontal = 0
        self.vertical = 0

    @property
    def ruled(self) -> bool:
        """Whether the page has enough rules in both directions to hold a ruled table."""
        return self.horizontal >= _MIN_RULES and self.vertical >= _MIN_RULES

    def add_path(self, path: Any, width: float, height: float) -> None:
        """Count one path object.

        Args:
            path: The ``FPDF_PAGEOBJECT`` of a path.
            width: Width of its bounds, in points.
            height: Height of its bounds, in points.
        """
        if self.ruled:
            return
        segments = pdfium_c.FPDFPath_CountSegments(path)
        if segments < 2 or segments > _MAX_SEGMENTS:
            return
        for index in range(segments):
            segment = pdfium_c.FPDFPath_GetPathSegment(path, index)
            if pdfium_c.FPDFPathSegment_GetType(segment) == pdfium_c.FPDF_SEGMENT_BEZIERTO:
                return
        if height <= _THIN < width:
            self.horizontal += 1
        elif width <= _THIN < height:
            self.vertical += 1
        elif width > _THIN and height > _THIN:
            sides = max(1, segments // 4)
            self.horizontal += sides
            self.vertical += sides


@dataclass
class Picture:
    """An image object of a page and where it is shown (left, bottom, right, top; y up)."""

    handle: Any
    bounds: tuple[float, float, float, float]  # left, bottom, right, top on the page


@dataclass
class PageObjects:
    """What :func:`walk_objects` found: rules, pictures, and how many things are drawn."""

    ruling: Ruling = field(default_factory=Ruling)
    pictures: list[Picture] = field(default_factory=list)
    drawn: int = 0  # image and path objects


def walk_objects(page: Any) -> PageObjects:
    """Count a page's rules and list its pictures, inside Form XObjects too (pdfium calls).

    Args:
        page: A pypdfium2 ``PdfPage``.
    """
    found = PageObjects()
    identity = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack: list[tuple[Any, bool, tuple[float, ...], int]] = [(page, False, identity, 0)]
    visited = 0
    while stack and visited < _MAX_OBJECTS:
        container, is_form, matrix, depth = stack.pop()
        if is_form:
            count = pdfium_c.FPDFFormObj_CountObjects(container)
        else:
            count = pdfium_c.FPDFPage_CountObjects(container)
        for i in range(max(0, min(count, _MAX_OBJECTS - visited))):
            visited += 1
            if is_form:
                obj = pdfium_c.FPDFFormObj_GetObject(container, i)
            else:
                obj = pdfium_c.FPDFPage_GetObject(container, i)
            kind = pdfium_c.FPDFPageObj_GetType(obj)
            if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
                found.drawn += 1
                if not found.ruling.ruled:
                    left, bottom, right, top = _bounds(obj, identity)
                    found.ruling.add_path(obj, right - left, top - bottom)
            elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                found.drawn += 1
                found.pictures.append(Picture(obj, _bounds(obj, matrix)))
            elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < _MAX_FORM_DEPTH:
                inner = pdfium_c.FS_MATRIX()
                if pdfium_c.FPDFPageObj_GetMatrix(obj, inner):
                    own = (inner.a, inner.b, inner.c, inner.d, inner.e, inner.f)
                    stack.append((obj, True, _compose(own, matrix), depth + 1))
    return found


def _compose(inner: Sequence[float], outer: Sequence[float]) -> tuple[float, ...]:
    """The matrix applying ``inner`` then ``outer`` (PDF row-vector convention)."""
    a, b, c, d, e, f = inner
    a2, b2, c2, d2, e2, f2 = outer
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _bounds(obj: Any, matrix: Sequence[float]) -> tuple[float, float, float, float]:
    """An object's bounds (left, bottom, right, top), mapped by its forms' ``matrix``."""
    left, bottom, right, top = (pdfium_c.FS_FLOAT(0) for _ in range(4))
    if not pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
        return (0.0, 0.0, 0.0, 0.0)
    a, b, c, d, e, f = matrix
    xs, ys = [], []
    for x in (left.value, right.value):
        for y in (bottom.value, top.value):
            xs.append(a * x + c * y + e)
            ys.append(b * x + d * y + f)
    return (min(xs), min(ys), max(xs), max(ys))


class TableFinder:
    """Reads the ruled tables of single pages with pdfplumber, opening the document lazily.

    pdfplumber parses a page only when asked, so a document pays only for its ruled pages.
    Pages pdfplumber cannot read, and rotated pages (whose coordinates it turns), give no
    tables: their text is then kept as lines.

    Args:
        data: The PDF bytes (the document pdfium has opened).
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pdf: Any = None
        self._failed = False

    def tables(self, index: int) -> list[PdfTable]:
        """The tables of page ``index`` (0-based) with two columns or more.

        A single cell is a framed paragraph and stays text; a single row of cells is kept (a
        table split over two pages leaves one on a page).

        Returns:
            The tables top to bottom; an empty list when pdfplumber fails on the page.
        """
        pdf = self._open()
        if pdf is None:
            return []
        page: Any = None
        try:
            page = pdf.pages[index]
            if page.rotation:
                return []
            height = float(page.height)
            found = []
            for table in page.find_tables():
                rows = table.extract()
                if max((len(row) for row in rows), default=0) < 2:
                    continue  # a framed paragraph or a column of boxes, not a table
                markdown = markdown_table(rows)
                if markdown:
                    x0, top, x1, bottom = (float(v) for v in table.bbox)
                    found.append(PdfTable((x0, height - bottom, x1, height - top), markdown))
            return sorted(found, key=lambda table: -table.top)
        except Exception as exc:  # pdfminer raises many types for pages pdfium reads fine
            logger.debug("no tables read on page %d: %s", index + 1, exc)
            return []
        finally:
            if page is not None:
                page.close()

    def close(self) -> None:
        """Close pdfplumber's document, if it was opened."""
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None

    def _open(self) -> Any:
        if self._pdf is None and not self._failed:
            import pdfplumber

            try:
                self._pdf = pdfplumber.open(io.BytesIO(self._data))
            except Exception as exc:  # see tables()
                logger.debug("pdfplumber cannot open the document: %s", exc)
                self._failed = True
        return self._pdf
