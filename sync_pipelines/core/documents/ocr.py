"""Optical character recognition with RapidOCR: PaddleOCR's PP-OCRv4 models run on onnxruntime.

The models (text detection, direction classification, recognition; Chinese and English,
about 16 MB) ship inside the ``rapidocr_onnxruntime`` wheel, so nothing is downloaded, and
they run on the onnxruntime the embedding model already uses. One engine per process is
built on first use and shared under a lock.
"""

import io
import threading
from typing import Any

from PIL import Image

_LOCK = threading.Lock()
_ENGINE: Any = None
_MIN_SIDE = 12  # smaller images hold no legible text
_MAX_SIDE = 4000  # larger images are scaled down first: detection time grows with area


def _engine() -> Any:
    global _ENGINE
    if _ENGINE is None:
        from rapidocr_onnxruntime import RapidOCR

        # The default scales an image's short side up to 736 px before detection: a one-line
        # sign becomes 4,400 px wide and takes a second. 320 keeps small text legible (word
        # spaces included) at a quarter of the cost; larger images are not scaled up.
        _ENGINE = RapidOCR(det_limit_type="min", det_limit_side_len=320)
    return _ENGINE


def open_image(data: bytes) -> Image.Image:
    """Open image bytes with Pillow (its decompression-bomb check applies)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def ocr_image(image: Image.Image | bytes) -> str:
    """The text of an image, one line per line of text, top to bottom and left to right.

    Args:
        image: A Pillow image or encoded image bytes (PNG, JPEG, WebP, GIF, TIFF, ...).

    Returns:
        The recognised text, ``""`` when there is none.
    """
    import numpy as np

    picture = open_image(image) if isinstance(image, bytes) else image
    if min(picture.size) < _MIN_SIDE:
        return ""
    picture = _flatten(picture)
    if max(picture.size) > _MAX_SIDE:
        picture.thumbnail((_MAX_SIDE, _MAX_SIDE))
    with _LOCK:
        result, _elapsed = _engine()(np.asarray(picture))
    return "\n".join(_reading_order(result or []))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: transparency and palettes as a viewer shows them."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _reading_order(boxes: list[Any]) -> list[str]:
    """Group detected boxes into lines by vertical overlap, then order each line by x."""
    items = []
    for points, text, _score in boxes:
        ys = [float(p[1]) for p in points]
        xs = [float(p[0]) for p in points]
        items.append((min(ys), max(ys), min(xs), str(text).strip()))
    items.sort(key=lambda item: (item[0] + item[1]) / 2)
    lines: list[list[tuple[float, float, float, str]]] = []
    for item in items:
        if lines:
            top, bottom = lines[-1][0][0], lines[-1][0][1]
            centre = (item[0] + item[1]) / 2
            if top <= centre <= bottom:
                lines[-1].append(item)
                continue
        lines.append([item])
    return [
        " ".join(text for *_pos, text in sorted(line, key=lambda i: i[2]) if text) for line in lines
    ]
