"""Images (PNG, JPEG, WebP, GIF, TIFF) as the text OCR finds in them."""

from PIL import Image, ImageSequence

from sync_pipelines.core.documents.builder import MarkdownBuilder
from sync_pipelines.core.documents.errors import ParseError, check_page_count
from sync_pipelines.core.documents.ocr import ocr_image, open_image
from sync_pipelines.core.types import ParsedDocument


def parse_image(key: str, data: bytes) -> ParsedDocument:
    """OCR an image; a multi-page TIFF gives one page per frame (an animated GIF, its first).

    Raises:
        ParseError: The bytes are not an image Pillow can read, or one too large to decode.
    """
    try:
        image = open_image(data)
    except Image.DecompressionBombError as exc:
        raise ParseError(key, f"image too large ({exc})") from None
    except (OSError, SyntaxError, ValueError):
        raise ParseError(key, "not a readable image (unknown or damaged image data)") from None
    doc = MarkdownBuilder()
    if image.format == "TIFF" and getattr(image, "n_frames", 1) > 1:
        check_page_count(key, int(getattr(image, "n_frames", 1)))
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            doc.mark(page=number)
            doc.block(ocr_image(frame.copy()))
        return doc.build(None)
    doc.block(ocr_image(image))
    return doc.build(None)
