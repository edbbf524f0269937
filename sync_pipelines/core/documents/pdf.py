"""PDF documents as markdown: pdfium text with headings and paragraphs, ruled tables and OCR.

Text comes from pdfium's text page (pypdfium2), line by line in the order pdfium reads it.
Each line's font size and position are sampled from a few of its characters, which keeps the
cost near pdfium's own text extraction (about a millisecond a page):

* headings: the body size is the size of most characters in the document; a short
  paragraph (at most three lines and 200 characters) in a size at least 15% and 1 pt larger
  becomes a ``#``, ``##`` or ``###`` heading by the rank of its size, and a size used by any
  longer paragraph is never a heading size;
* paragraphs: lines of one size stay together, one per line of markdown, until a vertical gap
  clearly wider than the document's usual line spacing; paragraphs are separated by a blank
  line;
* tables: a page whose vector paths include horizontal and vertical rules is read by
  pdfplumber (:mod:`~sync_pipelines.core.documents.pdf_tables`); each table of two columns
  or more (a lone row too: the rest of a table split over pages) becomes a markdown table
  where it stands, in place of the pdfium text inside it;
* OCR: a page without any text is rendered at 144 dpi and read by
  :func:`~sync_pipelines.core.documents.ocr.ocr_image`, and on pages with text each embedded
  picture of 100 x 40 pixels or more, shown at 50 x 20 points or more and not under any
  text, is read and its text put where it stands.

pdfium is not thread-safe, so every pypdfium2 call runs under :data:`PDFIUM_LOCK`;
pdfplumber and OCR run outside it, so documents parsed on several threads overlap there.
"""

import hashlib
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from sync_pipelines.core.documents.builder import MarkdownBuilder
from sync_pipelines.core.documents.errors import ParseError, check_page_count
from sync_pipelines.core.documents.ocr import ocr_image
from sync_pipelines.core.documents.pdf_tables import (
    PdfTable,
    Picture,
    TableFinder,
    walk_objects,
)
from sync_pipelines.core.types import ParsedDocument

logger = logging.getLogger(__name__)

PDFIUM_LOCK = threading.Lock()
"""Held around every pdfium call in the process (pdfium keeps global state)."""

MAX_OCR_PAGES = 200
"""Pages without text OCRed per document (0.3 to 1 s each); later ones stay empty."""
MAX_OCR_IMAGES = 50
"""Embedded pictures OCRed per document on pages with text; later ones are skipped."""

_RENDER_SCALE = 2.0  # 144 dpi
_MAX_RENDER_SIDE = 2400  # pixels: larger pages render at a lower scale
_MIN_PICTURE_PX = (100, 40)  # long and short side, in image pixels
_MIN_PICTURE_PT = (50.0, 20.0)  # long and short side, as shown on the page
_MAX_PICTURE_PX = 25_000_000  # larger images are not decoded
_HEADING_RATIO = 1.15
_HEADING_MIN_STEP = 1.0  # points
_HEADING_MAX_LINES = 3
_HEADING_MAX_CHARS = 200
_LEADING_RANGE = (0.9, 1.6)  # usual baseline distance over font size, when plausible
_DEFAULT_LEADING = 1.2
_LINE = re.compile(r"[^\r\n]+")
_MARKDOWN_START = re.compile(r"^(#|```|~~~|[=\-_*+]+$)")
_CLEAN = {0: None, 0x02: "-", 0xFFFE: "-", 0xFFFF: None, 0x09: " "} | {
    code: None for code in (*range(0x01, 0x20), 0x7F) if code not in (0x02, 0x09)
}
_PDFIUM_REASON = re.compile(r"PDFium: ([^)]*)")


@dataclass
class _Line:
    text: str
    size: float  # effective font size, points
    left: float
    bottom: float  # of the loose character box (ascent to descent), points, y up
    right: float
    top: float

    @property
    def key(self) -> float:
        return round(self.size * 2) / 2


@dataclass(frozen=True)
class _Insert:
    top: float  # y up; math.inf puts it first
    markdown: str


@dataclass
class _Page:
    lines: list[_Line]
    inserts: list[_Insert]


@dataclass
class _OcrBudget:
    pages: int
    images: int
    seen: set[bytes] = field(default_factory=set)


def parse_pdf(key: str, data: bytes) -> ParsedDocument:
    """Parse a PDF into markdown, one location per page.

    OCR is capped per document: at most :data:`MAX_OCR_PAGES` pages without text are
    rendered and read, and at most :data:`MAX_OCR_IMAGES` embedded pictures on pages with
    text; a picture repeated on several pages (a logo) is read once, where it first appears.

    Args:
        key: The document's key, for errors.
        data: The PDF bytes.

    Returns:
        Markdown (language ``"markdown"``) with a ``Location(line, page=n)`` where page
        ``n``'s text starts; pages without text have none.

    Raises:
        ParseError: ``encrypted PDF (a password is required)`` when the document needs a user
            password, ``corrupt PDF (...)`` when pdfium cannot read it, or the page limit.
    """
    with PDFIUM_LOCK:
        pdf = _open(key, data)
    finder = TableFinder(data)
    try:
        with PDFIUM_LOCK:
            count = len(pdf)
        check_page_count(key, count)
        budget = _OcrBudget(MAX_OCR_PAGES, MAX_OCR_IMAGES)
        pages = [_read_page(key, pdf, index, finder, budget) for index in range(count)]
    finally:
        finder.close()
        with PDFIUM_LOCK:
            pdf.close()
    return _markdown(pages)


def _open(key: str, data: bytes) -> Any:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise ParseError(key, "encrypted PDF (a password is required)") from None
        found = _PDFIUM_REASON.search(str(exc))
        reason = found.group(1) if found else str(exc) or type(exc).__name__
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise ParseError(key, f"encrypted PDF ({reason})") from None
        raise ParseError(key, f"corrupt PDF ({reason})") from None


def _read_page(key: str, pdf: Any, index: int, finder: TableFinder, budget: _OcrBudget) -> _Page:
    """Read one page: pdfium under the lock, pdfplumber and OCR outside it."""
    with PDFIUM_LOCK:
        try:
            page = pdf[index]
        except pdfium.PdfiumError as exc:
            raise ParseError(key, f"corrupt PDF (page {index + 1}: {exc})") from None
        textpage = None
        try:
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            objects = walk_objects(page)
        except BaseException:
            _close(textpage, page)
            raise
    try:
        has_text = bool(text.strip())
        tables = finder.tables(index) if has_text and objects.ruling.ruled else []
        with PDFIUM_LOCK:
            lines = _text_lines(textpage, text, tables)
            scan = None
            if not has_text and objects.drawn:
                budget.pages -= 1
                if budget.pages >= 0:
                    scan = _render(page)
                elif budget.pages == -1:
                    logger.info("%s: OCR limit of %d pages reached", key, MAX_OCR_PAGES)
            pictures = _pictures(pdf, page, objects.pictures, lines, budget) if has_text else []
    finally:
        with PDFIUM_LOCK:
            _close(textpage, page)
    inserts = [_Insert(table.top, table.markdown) for table in tables]
    if scan is not None:
        inserts.append(_Insert(math.inf, _plain(ocr_image(scan))))
    for top, picture in pictures:
        inserts.append(_Insert(top, _plain(ocr_image(picture))))
    return _Page(lines, [insert for insert in inserts if insert.markdown])


def _close(*objects: Any) -> None:
    for obj in objects:
        if obj is not None:
            obj.close()


def _text_lines(textpage: Any, text: str, tables: Sequence[PdfTable]) -> list[_Line]:
    """The page's text lines, without the characters inside ``tables``.

    ``text`` is the whole text page; when its length differs from the character count
    (characters outside the Basic Multilingual Plane), it is rebuilt one character at a time
    so indices match pdfium's.
    """
    count = pdfium_c.FPDFText_CountChars(textpage)
    if count <= 0 or not text.strip():
        return []
    if len(text) != count:
        text = "".join(_char(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(count))
    lines = []
    for match in _LINE.finditer(text):
        start, end = match.span()
        if tables:
            kept = [i for i in range(start, end) if not _in_table(textpage, i, tables)]
            raw = "".join(text[i] for i in kept)
            visible = [i for i in kept if not text[i].isspace()]
            samples = [visible[0], visible[len(visible) // 2], visible[-1]] if visible else []
        else:
            raw = match.group()
            samples = _samples(text, start, end)
        line_text = raw.translate(_CLEAN).strip()
        if not samples or not line_text:
            continue
        boxes = [_char_box(textpage, i) for i in sorted(set(samples))]
        sizes = sorted(box[0] for box in boxes)
        lefts, bottoms, rights, tops = (sorted(box[n] for box in boxes) for n in range(1, 5))
        middle = len(boxes) // 2
        lines.append(
            _Line(line_text, sizes[middle], lefts[0], bottoms[middle], rights[-1], tops[-1])
        )
    return lines


def _samples(text: str, start: int, end: int) -> list[int]:
    """The first, a middle and the last non-space character of ``text[start:end]``."""
    raw = text[start:end]
    stripped = raw.lstrip()
    if not stripped:
        return []
    first = start + len(raw) - len(stripped)
    last = start + len(raw.rstrip()) - 1
    middle = (first + last) // 2
    while text[middle].isspace():
        middle += 1  # stops at ``last`` at the latest
    return [first, middle, last]


def _char(code: int) -> str:
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""


def _char_box(textpage: Any, index: int) -> tuple[float, float, float, float, float]:
    """Effective font size, then left, bottom, right, top of a character's loose box."""
    rect = pdfium_c.FS_RECTF()
    pdfium_c.FPDFText_GetLooseCharBox(textpage, index, rect)
    matrix = pdfium_c.FS_MATRIX()
    scale = 1.0
    if pdfium_c.FPDFText_GetMatrix(textpage, index, matrix):
        scale = math.hypot(matrix.c, matrix.d) or 1.0
    size = float(pdfium_c.FPDFText_GetFontSize(textpage, index)) * scale
    return (size, rect.left, rect.bottom, rect.right, rect.top)


def _in_table(textpage: Any, index: int, tables: Sequence[PdfTable]) -> bool:
    rect = pdfium_c.FS_RECTF()
    pdfium_c.FPDFText_GetLooseCharBox(textpage, index, rect)
    x, y = (rect.left + rect.right) / 2, (rect.bottom + rect.top) / 2
    return any(table.contains(x, y) for table in tables)


def _render(page: Any) -> Image.Image:
    """The page as a picture for OCR: 144 dpi, less for pages too large for that."""
    width, height = page.get_size()
    scale = min(_RENDER_SCALE, _MAX_RENDER_SIDE / max(width, height, 1.0))
    return _to_pil(page.render(scale=scale))


def _to_pil(bitmap: Any) -> Image.Image:
    """A Pillow copy of a pdfium bitmap, which is then freed (under the lock, not by GC)."""
    try:
        picture: Image.Image = bitmap.to_pil().copy()
        return picture
    finally:
        bitmap.warn_on_close = False  # safe: the copy owns its pixels
        bitmap.close()


def _pictures(
    pdf: Any, page: Any, pictures: Sequence[Picture], lines: Sequence[_Line], budget: _OcrBudget
) -> list[tuple[float, Image.Image]]:
    """Decode the pictures worth reading: large enough, not under text, not seen before."""
    found = []
    for picture in pictures:
        if budget.images <= 0:
            break
        left, bottom, right, top = picture.bounds
        if not _large(right - left, top - bottom, _MIN_PICTURE_PT) or any(
            left <= (line.left + line.right) / 2 <= right
            and bottom <= (line.bottom + line.top) / 2 <= top
            for line in lines
        ):
            continue  # a bullet or icon, or a background or scan under a text layer
        try:
            image = pdfium.PdfObject(picture.handle, page=page, pdf=pdf)
            px_width, px_height = image.get_px_size()
            if not _large(px_width, px_height, _MIN_PICTURE_PX):
                continue
            if px_width * px_height > _MAX_PICTURE_PX:
                continue
            digest = hashlib.blake2b(bytes(image.get_data()), digest_size=16).digest()
            if digest in budget.seen:
                continue
            budget.seen.add(digest)
            found.append((top, _to_pil(image.get_bitmap(render=True))))
        except Exception as exc:  # a picture pdfium or Pillow cannot decode is skipped
            logger.debug("picture not decoded: %s", exc)
            continue
        budget.images -= 1
        if budget.images == 0:
            logger.info("OCR limit of %d pictures reached", MAX_OCR_IMAGES)
    return found


def _large(width: float, height: float, minimum: tuple[float, float]) -> bool:
    return max(width, height) >= minimum[0] and min(width, height) >= minimum[1]


def _plain(text: str) -> str:
    """OCR text as markdown lines."""
    lines = (_escape(line.translate(_CLEAN).strip()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _escape(line: str) -> str:
    """Keep a line of text from reading as a heading, fence or setext underline."""
    return "\\" + line if _MARKDOWN_START.match(line) else line


# Layout: sizes and spacing over the whole document, then paragraphs and headings.


def _markdown(pages: Sequence[_Page]) -> ParsedDocument:
    chars: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            chars[line.key] += len(line.text)
    body = chars.most_common(1)[0][0] if chars else 0.0
    leading = _leading(pages, body)
    laid_out = [_paragraphs(page, leading) for page in pages]
    levels = _heading_levels(laid_out, body)
    doc = MarkdownBuilder()
    for number, items in enumerate(laid_out, start=1):
        doc.mark(page=number)
        for item in items:
            doc.block(item if isinstance(item, str) else _paragraph(item, levels))
    return doc.build("markdown")


def _leading(pages: Sequence[_Page], body: float) -> float:
    """The usual baseline distance of consecutive body lines, over their font size."""
    ratios: Counter[float] = Counter()
    for page in pages:
        for above, below in zip(page.lines, page.lines[1:], strict=False):
            if above.key == body == below.key and body > 0:
                distance = above.bottom - below.bottom
                if distance > 0:
                    ratios[round(distance / body * 20) / 20] += 1
    if ratios:
        usual = ratios.most_common(1)[0][0]
        if _LEADING_RANGE[0] <= usual <= _LEADING_RANGE[1]:
            return usual
    return _DEFAULT_LEADING


def _paragraphs(page: _Page, leading: float) -> list[list[_Line] | str]:
    """Group a page's lines into paragraphs, with tables and OCR text at their height."""
    pending = sorted(page.inserts, key=lambda insert: -insert.top)
    items: list[list[_Line] | str] = []
    current: list[_Line] = []
    for line in page.lines:
        while pending and line.top <= pending[0].top + 1.0:
            if current:
                items.append(current)
                current = []
            items.append(pending.pop(0).markdown)
        if current and _breaks(current[-1], line, leading):
            items.append(current)
            current = []
        current.append(line)
    if current:
        items.append(current)
    items.extend(insert.markdown for insert in pending)
    return items


def _breaks(above: _Line, below: _Line, leading: float) -> bool:
    """Whether ``below`` starts a new paragraph: another size, a wide gap or a jump up."""
    if above.key != below.key:
        return True
    size = max(above.size, below.size, 1.0)
    distance = above.bottom - below.bottom
    return distance > leading * size + max(0.35 * size, 1.5) or distance < -0.3 * size


def _heading_levels(pages: Sequence[list[list[_Line] | str]], body: float) -> dict[float, int]:
    """Heading level by font size: sizes clearly above the body's, used by short paragraphs."""
    if body <= 0:
        return {}
    short: set[float] = set()
    long: set[float] = set()
    for items in pages:
        for item in items:
            if isinstance(item, list):
                text = " ".join(line.text for line in item)
                fits = len(item) <= _HEADING_MAX_LINES and len(text) <= _HEADING_MAX_CHARS
                (short if fits else long).add(item[0].key)
    sizes = sorted(
        (
            size
            for size in short - long
            if size >= body * _HEADING_RATIO and size >= body + _HEADING_MIN_STEP
        ),
        reverse=True,
    )
    return {size: min(rank, 3) for rank, size in enumerate(sizes, start=1)}


def _paragraph(lines: Sequence[_Line], levels: dict[float, int]) -> str:
    level = levels.get(lines[0].key)
    text = " ".join(line.text for line in lines)
    if level and any(ch.isalpha() for ch in text):
        return "#" * level + " " + text
    return "\n".join(_escape(line.text) for line in lines)
