"""Presentations (``.pptx``, and ``.ppt`` through LibreOffice) as markdown, one section a slide.

Each slide starts with a ``## Slide <n>: <title>`` heading, recorded as a page location,
followed by its shapes in reading order (top to bottom, then left to right): text frames,
with bulleted paragraphs as nested markdown lists, tables as markdown tables, the text OCR
finds in pictures, and the shapes inside groups. Speaker notes follow under ``### Notes``.
Charts, SmartArt, media and embedded objects are not read.
"""

import io
from collections.abc import Iterable, Iterator

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.oxml.ns import qn
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.shapes.picture import Picture
from pptx.slide import Slide
from pptx.text.text import TextFrame, _Paragraph

from sync_pipelines.core.documents import legacy
from sync_pipelines.core.documents.builder import MarkdownBuilder, markdown_table
from sync_pipelines.core.documents.errors import check_not_encrypted_ooxml, check_page_count
from sync_pipelines.core.documents.ocr import ocr_image
from sync_pipelines.core.types import ParsedDocument

_BULLETED_PLACEHOLDERS = frozenset(
    {
        PP_PLACEHOLDER.BODY,
        PP_PLACEHOLDER.OBJECT,
        PP_PLACEHOLDER.VERTICAL_BODY,
        PP_PLACEHOLDER.VERTICAL_OBJECT,
    }
)
"""Placeholders whose paragraphs the usual masters bullet unless a paragraph says otherwise."""

_CHROME_PLACEHOLDERS = frozenset(
    {PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER}
)
"""Placeholders repeated on every slide, left out."""


def parse_pptx(key: str, data: bytes) -> ParsedDocument:
    """Parse a PowerPoint presentation (``.pptx``) with python-pptx.

    Args:
        key: The object key, for errors.
        data: The presentation bytes.

    Returns:
        Markdown with a ``## Slide <n>`` section per slide and a page location (the slide
        number) at each slide's heading.

    Raises:
        ParseError: The presentation is password-protected or has more than
            :data:`~sync_pipelines.core.documents.errors.MAX_PAGES` slides.
    """
    check_not_encrypted_ooxml(key, data, "PowerPoint presentation")
    presentation = Presentation(io.BytesIO(data))
    slides = presentation.slides
    check_page_count(key, len(slides), "slides")
    doc = MarkdownBuilder()
    ocr_cache: dict[str, str] = {}
    for number, slide in enumerate(slides, start=1):
        doc.mark(page=number)
        title_shape = slide.shapes.title
        title = ""
        if title_shape is not None and title_shape.has_text_frame:
            title = _one_line(title_shape.text_frame.text)
        doc.block(f"## Slide {number}: {title}" if title else f"## Slide {number}")
        skip = title_shape.shape_id if title_shape is not None else None
        doc.blocks(_shape_blocks(slide.shapes, skip, ocr_cache))
        notes = _notes(slide)
        if notes:
            doc.block("### Notes")
            doc.blocks(notes)
    return doc.build("markdown")


def parse_ppt(key: str, data: bytes) -> ParsedDocument:
    """Parse a PowerPoint 97-2003 presentation (``.ppt``): LibreOffice converts it to ``.pptx``.

    Args:
        key: The object key, for errors.
        data: The presentation bytes.

    Returns:
        The same shape as :func:`parse_pptx`.

    Raises:
        ParseError: LibreOffice is missing or could not convert the file, or
            :func:`parse_pptx` refused the result.
    """
    converted = legacy.convert(key, data, ".ppt", ".pptx", "PowerPoint 97-2003 presentation")
    return parse_pptx(key, converted)


def _shape_blocks(
    shapes: Iterable[BaseShape], skip_id: int | None, ocr_cache: dict[str, str]
) -> Iterator[str]:
    """Markdown blocks of shapes in reading order, groups recursed."""
    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if shape.shape_id == skip_id:
            continue
        if shape.is_placeholder and shape.placeholder_format.type in _CHROME_PLACEHOLDERS:
            continue
        if isinstance(shape, GroupShape):
            yield from _shape_blocks(shape.shapes, None, ocr_cache)
        elif isinstance(shape, Picture):
            yield _picture_text(shape, ocr_cache)
        elif getattr(shape, "has_table", False):
            table = shape.table  # type: ignore[attr-defined]
            yield markdown_table(
                [[cell.text.replace("\v", "\n") for cell in row.cells] for row in table.rows]
            )
        elif shape.has_text_frame:
            bulleted = (
                shape.is_placeholder and shape.placeholder_format.type in _BULLETED_PLACEHOLDERS
            )
            yield from _text_blocks(shape.text_frame, bulleted)  # type: ignore[attr-defined]


def _text_blocks(frame: TextFrame, bulleted: bool) -> Iterator[str]:
    """A text frame's paragraphs: runs of bulleted ones as one nested list, others as blocks.

    Args:
        frame: The text frame.
        bulleted: Whether paragraphs without bullet properties of their own are bulleted
            (they inherit the bullets of a body placeholder).
    """
    items: list[str] = []
    base = previous = 0
    for paragraph in frame.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        if _is_bullet(paragraph, bulleted):
            level = paragraph.level
            if not items:
                base, previous = level, -1
            depth = max(0, min(level - base, previous + 1))  # no jumps: 4 spaces is code
            items.append("  " * depth + "- " + _one_line(text))
            previous = depth
            continue
        if items:
            yield "\n".join(items)
            items = []
        yield "\n".join(_one_line(line) for line in text.split("\v"))
    if items:
        yield "\n".join(items)


def _is_bullet(paragraph: _Paragraph, inherited: bool) -> bool:
    properties = paragraph._p.pPr
    if properties is not None:
        if properties.find(qn("a:buNone")) is not None:
            return False
        if any(properties.find(qn(tag)) is not None for tag in ("a:buChar", "a:buAutoNum")):
            return True
    return inherited or paragraph.level > 0


def _picture_text(picture: Picture, cache: dict[str, str]) -> str:
    """The OCR text of a picture, ``""`` for a linked, unreadable or text-free one."""
    try:
        image = picture.image
        if image.sha1 not in cache:
            cache[image.sha1] = ocr_image(image.blob)
        return cache[image.sha1]
    except Exception:  # a linked or damaged image, or one Pillow cannot decode (WMF, EMF)
        return ""


def _notes(slide: Slide) -> list[str]:
    if not slide.has_notes_slide:
        return []
    frame = slide.notes_slide.notes_text_frame
    return list(_text_blocks(frame, False)) if frame is not None else []


def _one_line(text: str) -> str:
    return " ".join(text.split())
