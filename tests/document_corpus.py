"""One document of every type the hosted service parses, made as an office user would.

The project's own code writes the sources (python-docx, openpyxl, python-pptx, Pillow, HTML)
and LibreOffice in headless mode (:mod:`tests.test_sync_pipelines.office_helpers`) converts
them into the formats no library here writes. Each document carries distinctive facts the
tests look for: a table cell, a sheet name, a speaker note, words only an image shows.
Used by the end-to-end document test and ``bench/parse.py``.
"""

import csv
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.test_sync_pipelines.office_helpers import convert

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
TABLE_CELL = "Falcon X2 drone"
TABLE_VALUE = "36 months"
SHEET = "Warehouse Stock"
SHEET_CELL = "Blue ceramic teapot"
SLIDE_NOTE = "Thank the volunteers of the penguin rescue centre in Cape Town"
OCR_WORD = "LIGHTHOUSE"
IMAGE_TEXT = "LIGHTHOUSE KEEPER ROTA"

SUFFIXES = (
    ".pdf", ".doc", ".docx", ".odt", ".xls", ".xlsx", ".xlsm", ".xltx", ".csv", ".ods",
    ".ppt", ".pptx", ".odp", ".html", ".epub", ".png", ".jpg", ".jpeg", ".webp", ".gif",
    ".tiff", ".tif",
)  # fmt: skip


def text_image(text: str = IMAGE_TEXT, size: int = 44) -> Image.Image:
    """A white image with ``text`` drawn in black, as a photographed sign would show it."""
    font = ImageFont.truetype(FONT, size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 80, bottom - top + 80), "white")
    ImageDraw.Draw(image).text((40 - left, 40 - top), text, fill="black", font=font)
    return image


def write_docx(path: Path, pages: int = 2) -> Path:
    """A Word report: headings, a list, a bordered table and ``pages`` pages of text."""
    import docx

    document = docx.Document()
    document.add_heading("Drone Warranty Report", level=1)
    document.add_paragraph("This report lists the warranty of every drone model we sell.")
    document.add_heading("Models", level=2)
    for item in ("Falcon series for surveying", "Heron series for delivery"):
        document.add_paragraph(item, style="List Bullet")
    table = document.add_table(rows=3, cols=3)
    table.style = "Table Grid"
    rows = [("Model", "Warranty", "Price"), (TABLE_CELL, TABLE_VALUE, "1299"),
            ("Heron S1 drone", "24 months", "899")]  # fmt: skip
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    for page in range(2, pages + 1):
        document.add_page_break()
        document.add_heading(f"Service notes part {page}", level=2)
        for n in range(6):
            document.add_paragraph(
                f"Service note {page}.{n}: batteries must be stored at half charge and "
                "inspected every three months; propellers are replaced after 200 flights."
            )
    document.save(str(path))
    return path


def write_xlsx(path: Path, rows: int = 3) -> Path:
    """A workbook of two sheets; the first lists stock (``rows`` items), the second suppliers."""
    import openpyxl

    book = openpyxl.Workbook()
    stock = book.active
    assert stock is not None
    stock.title = SHEET
    stock.append(["Item", "Quantity", "Location"])
    stock.append([SHEET_CELL, 42, "Shelf B7"])
    for n in range(rows - 1):
        stock.append([f"Stock item {n}", n, f"Shelf C{n % 20}"])
    suppliers = book.create_sheet("Suppliers")
    suppliers.append(["Supplier", "Country"])
    suppliers.append(["Porcelain Works", "Portugal"])
    book.save(str(path))
    return path


def write_pptx(path: Path, image: Path) -> Path:
    """A deck: a title slide, a bullet slide with notes, a table slide, a picture slide."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    title = deck.slides.add_slide(deck.slide_layouts[0])
    title.shapes.title.text = "Volunteer Programme 2026"
    bullets = deck.slides.add_slide(deck.slide_layouts[1])
    bullets.shapes.title.text = "Where we help"
    frame = bullets.placeholders[1].text_frame
    frame.text = "Coastal clean-ups"
    sub = frame.add_paragraph()
    sub.text = "Beach litter surveys"
    sub.level = 1
    bullets.notes_slide.notes_text_frame.text = SLIDE_NOTE
    tables = deck.slides.add_slide(deck.slide_layouts[5])
    tables.shapes.title.text = "Hours per region"
    grid = tables.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    for (r, c), value in {
        (0, 0): "Region",
        (0, 1): "Hours",
        (1, 0): "Algarve",
        (1, 1): "120",
    }.items():
        grid.cell(r, c).text = value
    picture = deck.slides.add_slide(deck.slide_layouts[6])
    picture.shapes.add_picture(str(image), Inches(1), Inches(1), width=Inches(7))
    deck.save(str(path))
    return path


def build_corpus(folder: Path, *, pages: int = 2, rows: int = 3) -> dict[str, Path]:
    """Write one document of every suffix in :data:`SUFFIXES` into ``folder``.

    Returns:
        The documents by suffix.
    """
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "src"
    src.mkdir(exist_ok=True)
    sign = src / "sign.png"
    text_image().save(sign)
    docs: dict[str, Path] = {}
    docs[".docx"] = write_docx(folder / "report.docx", pages)
    docs[".xlsx"] = write_xlsx(folder / "inventory.xlsx", rows)
    docs[".pptx"] = write_pptx(folder / "deck.pptx", sign)
    for suffix in (".doc", ".odt", ".pdf", ".epub"):
        docs[suffix] = convert(docs[".docx"], suffix, folder)
    for suffix in (".xls", ".ods", ".xlsm", ".xltx"):
        docs[suffix] = convert(docs[".xlsx"], suffix, folder)
    for suffix in (".ppt", ".odp"):
        docs[suffix] = convert(docs[".pptx"], suffix, folder)
    docs[".csv"] = folder / "stock.csv"
    with docs[".csv"].open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["Item", "Quantity"])
        writer.writerow([SHEET_CELL, 42])
    docs[".html"] = folder / "faq.html"
    docs[".html"].write_text(
        "<html><head><title>FAQ</title></head><body><nav><a href='/'>Home</a></nav>"
        "<h1>Billing FAQ</h1><p>Invoices are sent on the first working day.</p></body></html>",
        encoding="utf-8",
    )
    image = Image.open(sign)
    for suffix in (".png", ".jpg", ".jpeg", ".webp", ".gif", ".tiff", ".tif"):
        target = folder / f"sign{suffix}"
        (image.convert("P") if suffix == ".gif" else image).save(target)
        docs[suffix] = target
    assert set(docs) == set(SUFFIXES), set(SUFFIXES) ^ set(docs)
    return docs
