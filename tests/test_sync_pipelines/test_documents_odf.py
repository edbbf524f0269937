"""OpenDocument text, spreadsheets and presentations made by LibreOffice, parsed to markdown."""

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from sync_pipelines.core.documents import odf
from sync_pipelines.core.documents.errors import ParseError
from sync_pipelines.core.documents.odf import parse_odp, parse_ods, parse_odt
from sync_pipelines.core.documents.registry import FORMATS_BY_SUFFIX, parse_with
from sync_pipelines.core.types import Location, ParsedDocument
from tests.test_sync_pipelines.office_helpers import convert
from tests.test_sync_pipelines.test_documents_word import (
    check_report,
    save_with_password,
    text_png,
    write_report_docx,
)

SLIDE_PICTURE_WORD = "QP5519"
NOTE = "Thank the volunteers of the penguin rescue centre"


def write_workbook(path: Path) -> Path:
    """Three sheets: stock with a far-off cell and repeated values, prices, and an empty one."""
    book = openpyxl.Workbook()
    stock = book.active
    assert stock is not None
    stock.title = "Warehouse Stock"
    stock.append(["Item", "Qty", "Shelf"])
    stock.append(["Blue ceramic teapot", 12, "A4"])
    stock["F9"] = "far corner note"
    for row in range(12, 15):  # three equal rows of three equal cells: LibreOffice repeats them
        for column in "ABC":
            stock[f"{column}{row}"] = "same"
    prices = book.create_sheet("Prices")
    prices.append(["Item", "Price"])
    prices.append(["Teapot", 9.5])
    book.create_sheet("Empty")
    book.save(path)
    return path


def write_deck(path: Path) -> Path:
    """Three slides: title, bullets and notes; a table and a picture; an untitled text box."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Penguin Rescue"
    first.placeholders[1].text = "Feeding rota\nBeach clean-up"
    first.notes_slide.notes_text_frame.text = NOTE
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Colony Figures"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(1.8), Inches(4), Inches(1)).table
    for (row, column), value in {(0, 0): "Colony", (0, 1): "Count", (1, 0): "Boulders Beach",
                                 (1, 1): "3000"}.items():  # fmt: skip
        table.cell(row, column).text = value
    picture = io.BytesIO(text_png(f"{SLIDE_PICTURE_WORD} PELICAN"))
    second.shapes.add_picture(picture, Inches(1), Inches(4))
    third = deck.slides.add_slide(deck.slide_layouts[6])
    box = third.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    box.text_frame.text = "Closing remarks without a title"
    deck.save(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sources converted by LibreOffice, and the report saved with a password."""
    out = tmp_path_factory.mktemp("odf")
    report = write_report_docx(out / "report.docx")
    return {
        "odt": convert(report, ".odt", out),
        "ods": convert(write_workbook(out / "stock.xlsx"), ".ods", out),
        "odp": convert(write_deck(out / "deck.pptx"), ".odp", out),
        "locked_odt": save_with_password(report, out / "locked.odt", "writer8", out),
    }


@pytest.fixture(scope="module")
def deck(files: dict[str, Path]) -> ParsedDocument:
    return parse_with(FORMATS_BY_SUFFIX[".odp"], "talks/deck.odp", files["odp"].read_bytes())


def section(text: str, start: str, end: str | None) -> str:
    """The lines of ``text`` from the line ``start`` up to the line ``end``."""
    lines = text.split("\n")
    first = lines.index(start)
    return "\n".join(lines[first : lines.index(end) if end else None])


def test_odt_becomes_markdown(files: dict[str, Path]) -> None:
    parsed = parse_with(FORMATS_BY_SUFFIX[".odt"], "r.odt", files["odt"].read_bytes())
    check_report(parsed.text)  # headings by outline level, lists, table, OCR where the picture is
    lines = parsed.text.split("\n")
    assert "1. Check the anchors" in lines and "2. Paint the railings" in lines
    assert "The inspection found three urgent repairs along the quay." in lines
    assert (parsed.language, parsed.locations) == ("markdown", ())


def test_ods_sheets_and_tables(files: dict[str, Path]) -> None:
    parsed = parse_ods("stock.ods", files["ods"].read_bytes())
    lines = parsed.text.split("\n")
    stock = section(parsed.text, "## Warehouse Stock", "## Prices").split("\n")
    assert stock[2:5] == [
        "| Item | Qty | Shelf |  |  |  |",
        "| --- | --- | --- | --- | --- | --- |",
        "| Blue ceramic teapot | 12 | A4 |  |  |  |",
    ]
    assert "|  |  |  |  |  | far corner note |" in stock
    assert stock.count("| same | same | same |  |  |  |") == 3  # repeated rows and cells
    prices = section(parsed.text, "## Prices", "## Empty")
    assert "| Teapot | 9.5 |" in prices.split("\n")
    assert lines[-1] == "## Empty"
    assert parsed.locations == (
        Location(1, sheet="Warehouse Stock"),
        Location(lines.index("## Prices") + 1, sheet="Prices"),
        Location(lines.index("## Empty") + 1, sheet="Empty"),
    )


def test_ods_million_repeated_rows_are_not_expanded(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    content = zipfile.ZipFile(files["ods"]).read("content.xml")
    assert b'table:number-rows-repeated="1048' in content  # LibreOffice's empty sheet rest
    rows_seen: list[int] = []
    original = odf._Walker._row_cells

    def counting(self: odf._Walker, row: object) -> list[str]:
        cells = original(self, row)
        rows_seen.append(len(cells))
        return cells

    monkeypatch.setattr(odf._Walker, "_row_cells", counting)
    parse_ods("stock.ods", files["ods"].read_bytes())
    assert len(rows_seen) < 40 and max(rows_seen) <= 6


def test_odp_slides(deck: ParsedDocument) -> None:
    lines = deck.text.split("\n")
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## Slide 1: Penguin Rescue", "## Slide 2: Colony Figures", "## Slide 3"]
    assert deck.locations == tuple(
        Location(lines.index(heading) + 1, page=number)
        for number, heading in enumerate(headings, start=1)
    )
    first = section(deck.text, headings[0], headings[1]).split("\n")
    assert "- Feeding rota" in first and "- Beach clean-up" in first
    assert first[first.index("### Notes") + 2] == NOTE  # notes under their heading
    second = section(deck.text, headings[1], headings[2])
    assert "| Colony | Count |" in second and "| Boulders Beach | 3000 |" in second
    assert SLIDE_PICTURE_WORD in second  # OCR of the picture
    assert "### Notes" not in second  # the slide has only an empty notes placeholder
    assert section(deck.text, headings[2], None).endswith("Closing remarks without a title")
    assert "<number>" not in deck.text  # the notes page's slide-number field


def test_odp_slide_limit(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sync_pipelines.core.documents.errors.MAX_PAGES", 2)
    with pytest.raises(ParseError) as caught:
        parse_odp("deck.odp", files["odp"].read_bytes())
    assert caught.value.reason == "document has 3 slides, over the 2-page limit"


def test_encrypted_odt(files: dict[str, Path]) -> None:
    manifest = zipfile.ZipFile(files["locked_odt"]).read("META-INF/manifest.xml")
    assert b"encryption-data" in manifest  # LibreOffice did encrypt it
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".odt"], "locked.odt", files["locked_odt"].read_bytes())
    assert caught.value.reason == "encrypted OpenDocument text (a password is required)"


@pytest.mark.parametrize(
    ("suffix", "label"),
    [
        (".odt", "OpenDocument text"),
        (".ods", "OpenDocument spreadsheet"),
        (".odp", "OpenDocument presentation"),
    ],
)
def test_corrupt_bytes(suffix: str, label: str, files: dict[str, Path]) -> None:
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[suffix], f"bad{suffix}", b"\x00garbage, not a zip")
    assert caught.value.reason == f"corrupt {label} (not a zip archive)"
    cut = files[suffix.lstrip(".")].read_bytes()[:3000]
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[suffix], f"cut{suffix}", cut)
    assert caught.value.reason.startswith(f"corrupt {label}")


def test_broken_content_xml_is_reported_not_printed(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = io.BytesIO()
    with zipfile.ZipFile(files["odt"]) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(
                info, data[: len(data) // 2] if info.filename == "content.xml" else data
            )
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".odt"], "half.odt", damaged.getvalue())
    assert caught.value.reason.startswith("corrupt OpenDocument text (content.xml:")
    assert capsys.readouterr().out == ""  # odfpy would print the whole part


def test_other_opendocument_type(files: dict[str, Path]) -> None:
    with pytest.raises(ParseError) as caught:
        parse_odt("sheet-named.odt", files["ods"].read_bytes())
    assert caught.value.reason.startswith("corrupt OpenDocument text (no text body")
