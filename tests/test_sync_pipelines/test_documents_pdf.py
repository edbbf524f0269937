"""PDFs made by LibreOffice, Pillow, reportlab and pypdf, parsed to markdown by pypdfium2.

The report is a python-docx document (two heading levels, paragraphs, a bordered table, a
picture of words, a page break) that LibreOffice exports to PDF; it is parsed once (OCR of
its picture takes about a second). The scanned page is a Pillow image saved as PDF.
"""

import io
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from sync_pipelines.core.documents import errors, pdf, pdf_tables
from sync_pipelines.core.documents.errors import ParseError
from sync_pipelines.core.documents.pdf import parse_pdf
from sync_pipelines.core.documents.registry import FORMATS_BY_SUFFIX, parse_with
from sync_pipelines.core.types import Location, ParsedDocument
from tests.test_sync_pipelines.office_helpers import convert

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PICTURE_WORD = "QK7381"  # what OCR must read in the report's picture
SCAN_WORD = "RH5126"  # what OCR must read on the scanned page (case may vary)
TABLE_ROW = "| Northwind Depot | 4711 | 12% |"
INTRO = "The harbour report covers the quarter in detail. " * 6
SECOND = "Freight volumes rose while costs stayed level. " * 5
PAGE_TWO = "Zebra crossing notes open the second page. " * 4


def words_image(text: str, size: int = 40) -> Image.Image:
    """Black words on white with a margin, as a scan or screenshot shows them."""
    font = ImageFont.truetype(FONT, size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 80, bottom - top + 80), "white")
    ImageDraw.Draw(image).text((40 - left, 40 - top), text, fill="black", font=font)
    return image


def write_report_docx(path: Path) -> Path:
    import docx
    from docx.enum.text import WD_BREAK
    from docx.shared import Inches

    document = docx.Document()
    document.add_heading("Harbour Quarterly Report", level=1)
    document.add_paragraph(INTRO)
    document.add_paragraph(SECOND)
    document.add_heading("Regional Figures", level=2)
    table = document.add_table(rows=3, cols=3)
    table.style = "Table Grid"  # bordered: LibreOffice draws the rules as vector paths
    rows = [("Depot", "Revenue", "Growth"), ("Northwind Depot", "4711", "12%"),
            ("Southgate Yard", "815", "3%")]  # fmt: skip
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("Text after the table explains the figures.")
    png = io.BytesIO()
    words_image(f"{PICTURE_WORD} BEACON", 48).save(png, "PNG")
    document.add_picture(png, width=Inches(3.5))
    document.add_paragraph("Text after the picture.")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph(PAGE_TWO)
    document.add_heading("Appendix Notes", level=2)
    document.add_paragraph("Closing remarks end the report.")
    document.save(path)
    return path


def reportlab_pdf(pages: list[list[tuple[float, str]]]) -> bytes:
    """A PDF of lines drawn at (font size, text), 1.2 x the size apart; no vector paths."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for page in pages:
        y = 760.0
        for size, text in page:
            pdf.setFont("Helvetica", size)
            y -= size * 1.2
            pdf.drawString(72, y, text)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("pdf")
    return convert(write_report_docx(out / "report.docx"), ".pdf", out).read_bytes()


@pytest.fixture(scope="module")
def report(report_pdf: bytes) -> ParsedDocument:
    return parse_pdf("reports/q3.pdf", report_pdf)


def test_report_is_markdown_with_headings(report: ParsedDocument) -> None:
    lines = report.text.split("\n")
    assert report.language == "markdown"
    assert lines[0] == "# Harbour Quarterly Report"
    assert "## Regional Figures" in lines
    assert "## Appendix Notes" in lines
    headings = [line for line in lines if line.startswith("#")]
    assert headings == ["# Harbour Quarterly Report", "## Regional Figures", "## Appendix Notes"]


def test_paragraphs_are_separated_by_blank_lines(report: ParsedDocument) -> None:
    blocks = report.text.split("\n\n")
    intro = next(block for block in blocks if block.startswith("The harbour report"))
    # the wrapped lines of one paragraph stay together, one markdown line each
    assert intro.replace("\n", " ").split() == INTRO.split()
    assert intro.count("\n") >= 1
    assert any(block.replace("\n", " ").split() == SECOND.split() for block in blocks)


def test_table_is_a_markdown_table_in_place(report: ParsedDocument) -> None:
    lines = report.text.split("\n")
    assert "| Depot | Revenue | Growth |" in lines
    assert TABLE_ROW in lines
    assert "| Southgate Yard | 815 | 3% |" in lines
    # where the table stands, and its cells not repeated as plain text
    order = [lines.index(x) for x in ("## Regional Figures", TABLE_ROW)]
    order.append(lines.index("Text after the table explains the figures."))
    assert order == sorted(order)
    assert report.text.count("Northwind") == 1


def test_picture_text_is_read_where_it_stands(report: ParsedDocument) -> None:
    text = report.text.replace(" ", "")
    assert PICTURE_WORD in text
    before = text.index("Textafterthetableexplainsthefigures.")
    after = text.index("Textafterthepicture.")
    assert before < text.index(PICTURE_WORD) < after


def test_second_page_is_located(report: ParsedDocument) -> None:
    assert [location.page for location in report.locations] == [1, 2]
    assert report.locations[0] == Location(1, page=1)
    second = report.locations[1]
    lines = report.text.split("\n")
    assert lines[second.line - 1].startswith("Zebra crossing notes open the second page.")
    assert lines[second.line - 2] == ""  # pages are blocks of their own
    assert not any("Zebra" in line for line in lines[: second.line - 1])


def test_registry_parses_pdfs_with_this_parser(report_pdf: bytes, report: ParsedDocument) -> None:
    assert parse_with(FORMATS_BY_SUFFIX[".pdf"], "reports/q3.pdf", report_pdf) == report


def test_scanned_page_is_read_by_ocr() -> None:
    buf = io.BytesIO()
    words_image(f"Inventory {SCAN_WORD} checked").save(buf, "PDF")
    doc = parse_pdf("scans/page.pdf", buf.getvalue())
    assert SCAN_WORD in doc.text.replace(" ", "").upper()
    assert doc.locations == (Location(1, page=1),)


def test_pages_without_ruling_never_reach_pdfplumber(
    report_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    original = pdf_tables.TableFinder.tables

    def counting(self: pdf_tables.TableFinder, index: int) -> list[pdf_tables.PdfTable]:
        asked.append(index)
        return original(self, index)

    monkeypatch.setattr(pdf_tables.TableFinder, "tables", counting)
    plain = reportlab_pdf([[(11, "Plain text only")], [(11, "More plain text")]])
    assert parse_pdf("plain.pdf", plain).text == "Plain text only\n\nMore plain text"
    assert asked == []
    parse_pdf("reports/q3.pdf", report_pdf)
    assert asked == [0]  # the table's page, not the second page


def test_headings_are_conservative() -> None:
    body = [(11, f"Body line {n} of an ordinary paragraph with several words.") for n in range(8)]
    long_large = [(14, f"A large-print paragraph, line {n}, that is text.") for n in range(5)]
    data = reportlab_pdf([[(20, "Big Title"), *body, (16, "Subsection"), *body, *long_large]])
    lines = parse_pdf("h.pdf", data).text.split("\n")
    assert lines[0] == "# Big Title"
    assert "## Subsection" in lines
    assert [line for line in lines if line.startswith("#")] == ["# Big Title", "## Subsection"]
    assert "A large-print paragraph, line 0, that is text." in lines


def test_heading_size_comes_from_the_text_matrix() -> None:
    # Some producers set the size with Tm and a 1-point font: pdfium's font size says 1.
    content = (
        b"BT /F1 1 Tf 24 0 0 24 72 700 Tm (Scaled Heading) Tj ET "
        b"BT /F1 11 Tf 72 660 Td (Body text in eleven point type, long enough to count.) Tj ET"
    )
    assert parse_pdf("m.pdf", minimal_pdf(content)).text.startswith("# Scaled Heading\n\n")


def minimal_pdf(content: bytes) -> bytes:
    """A one-page PDF with Helvetica as /F1 and ``content`` as its content stream."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_control_characters_are_removed() -> None:
    content = b"BT /F1 12 Tf 72 700 Td (Tab\\tand\\000nul) Tj ET"
    assert parse_pdf("c.pdf", minimal_pdf(content)).text == "Tab andnul"


def test_text_that_looks_like_markdown_is_escaped() -> None:
    content = b"BT /F1 12 Tf 72 700 Td (# not a heading) Tj 0 -14 Td (---) Tj ET"
    assert parse_pdf("e.pdf", minimal_pdf(content)).text == "\\# not a heading\n\\---"


def test_encrypted_pdf_needs_a_password(report_pdf: bytes) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(report_pdf)))
    writer.encrypt("pw")
    locked = io.BytesIO()
    writer.write(locked)
    with pytest.raises(ParseError) as caught:
        parse_pdf("secret.pdf", locked.getvalue())
    assert caught.value.key == "secret.pdf"
    assert caught.value.reason == "encrypted PDF (a password is required)"


def test_empty_user_password_is_read(report_pdf: bytes) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(reportlab_pdf([[(11, "Open me")]]))))
    writer.encrypt(user_password="", owner_password="owner")
    opened = io.BytesIO()
    writer.write(opened)
    assert parse_pdf("open.pdf", opened.getvalue()).text == "Open me"


@pytest.mark.parametrize("cut", ["garbage", "truncated"])
def test_corrupt_pdf(report_pdf: bytes, cut: str) -> None:
    data = b"%PDF-1.7\nnot really a pdf" if cut == "garbage" else report_pdf[:2000]
    with pytest.raises(ParseError) as caught:
        parse_pdf("broken.pdf", data)
    assert caught.value.reason.startswith("corrupt PDF (")
    assert str(caught.value).startswith("broken.pdf: corrupt PDF (")


def test_page_limit(report_pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "MAX_PAGES", 1)
    with pytest.raises(ParseError) as caught:
        parse_pdf("long.pdf", report_pdf)
    assert caught.value.reason == "document has 2 pages, over the 1-page limit"


def test_parallel_parses_agree() -> None:
    pages = [[(16, f"Chapter {n}"), *[(11, f"Line {i} of chapter {n}.") for i in range(30)]]
             for n in range(12)]  # fmt: skip
    data = reportlab_pdf(pages)
    expected = parse_pdf("t.pdf", data)
    results: list[ParsedDocument] = []

    def work() -> None:
        for _ in range(3):
            results.append(parse_pdf("t.pdf", data))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 12
    assert all(result == expected for result in results)
    assert len(expected.locations) == 12


@pytest.fixture
def fake_ocr(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Replace OCR by a stub that records the size of each picture it is given."""
    calls: list[tuple[int, int]] = []

    def read(picture: Image.Image) -> str:
        calls.append(picture.size)
        return f"ocr text {len(calls)}"

    monkeypatch.setattr(pdf, "ocr_image", read)
    return calls


def test_ocr_pages_are_capped(
    fake_ocr: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf, "MAX_OCR_PAGES", 2)
    scans = [words_image(f"page {n}") for n in range(3)]
    buf = io.BytesIO()
    scans[0].save(buf, "PDF", save_all=True, append_images=scans[1:])
    doc = parse_pdf("scans/three.pdf", buf.getvalue())
    assert doc.text == "ocr text 1\n\nocr text 2"
    assert [location.page for location in doc.locations] == [1, 2]
    width, height = scans[0].size
    assert fake_ocr[0] == (width * 2, height * 2)  # rendered at 144 dpi from a 72 dpi page


def test_pictures_worth_reading(fake_ocr: list[tuple[int, int]]) -> None:
    logo = words_image("LOGO", 40)  # about 200 x 110 px
    shown = (100, 100 * logo.height / logo.width)
    icon = words_image("icon", 40)
    chart = words_image("different picture", 40)
    buf = io.BytesIO()
    pdf_canvas = canvas.Canvas(buf)
    for number in range(3):
        pdf_canvas.setFont("Helvetica", 11)
        pdf_canvas.drawString(72, 760, f"Page {number + 1} starts here.")
        pdf_canvas.drawImage(ImageReader(logo), 72, 640, *shown)  # on every page
        pdf_canvas.drawString(72, 600, f"Page {number + 1} text below the logo.")
        pdf_canvas.drawImage(ImageReader(icon), 300, 700, width=30, height=18)  # shown tiny
        pdf_canvas.showPage()
    pdf_canvas.drawImage(ImageReader(chart), 72, 300, width=300, height=50)
    pdf_canvas.drawString(80, 320, "Text over a background picture.")
    pdf_canvas.showPage()
    pdf_canvas.save()
    doc = parse_pdf("pictures.pdf", buf.getvalue())
    assert len(fake_ocr) == 1  # the logo once; not the icon, not the background
    assert fake_ocr[0][0] == logo.width  # read at its own resolution
    assert doc.text.startswith("Page 1 starts here.\n\nocr text 1\n\nPage 1 text below the logo.")
    assert doc.text.count("ocr text") == 1


def test_ocr_pictures_are_capped(
    fake_ocr: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf, "MAX_OCR_IMAGES", 2)
    buf = io.BytesIO()
    pdf_canvas = canvas.Canvas(buf)
    pdf_canvas.setFont("Helvetica", 11)
    pdf_canvas.drawString(72, 760, "Three pictures follow.")
    for number in range(3):
        picture = words_image(f"picture {number}", 40)
        pdf_canvas.drawImage(ImageReader(picture), 72, 600 - 150 * number, 200, 60)
    pdf_canvas.showPage()
    pdf_canvas.save()
    doc = parse_pdf("three.pdf", buf.getvalue())
    assert len(fake_ocr) == 2
    assert doc.text == "Three pictures follow.\n\nocr text 1\n\nocr text 2"
