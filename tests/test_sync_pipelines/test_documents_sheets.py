"""Spreadsheet parsing: workbooks written by openpyxl, saved by LibreOffice in each format."""

import datetime as dt
import io
import os
import re
import signal
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference

from sync_pipelines.core.documents.errors import ParseError
from sync_pipelines.core.documents.registry import format_for, parse_with
from sync_pipelines.core.documents.sheets import parse_csv, parse_xls, parse_xlsx
from sync_pipelines.core.types import Location
from tests.test_sync_pipelines.office_helpers import convert, soffice

SALES_TABLE = """\
| Region | Units | Price | When |
| --- | --- | --- | --- |
| North | 42 | 3.5 | 2024-03-15 |
| a\\|b | 1234567 | 0.3 | 2024-03-16 10:30:00 |
| Zürich | 7 | -2.25 |  |"""

NOTES_TABLE = """\
| Key | Value |
| --- | --- |
| alpha | 7 |
| beta | two<br>lines |"""

WORKBOOK_TEXT = f"## Q1 Sales\n\n{SALES_TABLE}\n\n## Notes\n\n{NOTES_TABLE}"

# A Basic macro saving a copy of a document with a filter, its options and a password: the
# one way to have LibreOffice write a password-protected .xls, or a CSV in UTF-8 (its
# --convert-to default for CSV here is Latin-1). Filter options use ";" for ",", which
# the macro URL would split on.
_MACRO = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" \
script:language="StarBasic">
Sub SaveCopy(src As String, dst As String, filter As String, options As String, pw As String)
  Dim openArgs(0) As New com.sun.star.beans.PropertyValue
  openArgs(0).Name = "Hidden"
  openArgs(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(src), "_blank", 0, openArgs())
  Dim saveArgs(2) As New com.sun.star.beans.PropertyValue
  saveArgs(0).Name = "FilterName"
  saveArgs(0).Value = filter
  saveArgs(1).Name = "FilterOptions"
  saveArgs(1).Value = Join(Split(options, ";"), ",")
  saveArgs(2).Name = "Password"
  saveArgs(2).Value = pw
  doc.storeToURL(ConvertToURL(dst), saveArgs())
  doc.close(True)
End Sub
</script:module>
"""


def _save_copies(profile: Path, copies: list[tuple[Path, Path, str, str, str]]) -> None:
    """Run :data:`_MACRO` once per copy (source, target, filter, options, password).

    ``profile`` must be a LibreOffice profile that has run once (``convert`` made it).
    """
    module = profile / "user" / "basic" / "Standard" / "Module1.xba"
    assert module.is_file(), f"no LibreOffice profile at {profile}"
    module.write_text(_MACRO, encoding="utf-8")
    urls = [
        "macro:///Standard.Module1.SaveCopy("
        + ",".join(f'"{arg}"' for arg in (src, dst, name, options, pw))
        + ")"
        for src, dst, name, options, pw in copies
    ]
    command = [soffice(), f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless"]
    process = subprocess.Popen(
        [*command, "--norestore", *urls],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a macro error may leave soffice waiting: kill its group
    )
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail("LibreOffice macro did not finish within 120 s")
    for _src, dst, *_rest in copies:
        assert dst.is_file(), f"LibreOffice macro did not write {dst}"


def _source_workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    sales = book.active
    assert sales is not None
    sales.title = "Q1 Sales"
    sales.append(["Region", "Units", "Price", "When"])
    sales.append(["North", 42, 3.5, dt.date(2024, 3, 15)])
    sales.append(["a|b", 1234567, 0.1 + 0.2, dt.datetime(2024, 3, 16, 10, 30)])
    sales.append(["Zürich", 7, -2.25, None])
    sales["D2"].number_format = "yyyy-mm-dd"
    notes = book.create_sheet("Notes")  # starts on row 2, column B and row 3 empty
    notes["A2"], notes["C2"] = "Key", "Value"
    notes["A4"], notes["C4"] = "alpha", 7
    notes["A5"], notes["C5"] = "beta", "two\nlines"
    book.save(path)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The workbook as LibreOffice saves it, by name; LibreOffice runs six times."""
    folder = tmp_path_factory.mktemp("sheets")
    source = folder / "src" / "budget.xlsx"
    source.parent.mkdir()
    _source_workbook(source)
    out = folder / "out"
    files = {
        suffix: convert(source, suffix, out).read_bytes()
        for suffix in (".xlsx", ".xls", ".xlsm", ".xltx", ".csv")
    }
    files["latin1.csv"] = files.pop(".csv")  # --convert-to's CSV charset here
    encrypted, utf8 = out / "encrypted.xls", out / "utf8.csv"
    _save_copies(
        out / ".lo-profile",
        [
            (source, encrypted, "MS Excel 97", "", "secret"),
            (source, utf8, "Text - txt - csv (StarCalc)", "44;34;76", ""),
        ],
    )
    files["encrypted.xls"] = encrypted.read_bytes()
    files["utf8.csv"] = utf8.read_bytes()
    return files


def _check_locations(text: str, locations: tuple[Location, ...]) -> None:
    lines = text.split("\n")
    for location in locations:
        assert lines[location.line - 1] == f"## {location.sheet}"


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm", ".xltx", ".xls"])
def test_workbook_sheets_tables_and_locations(office: dict[str, bytes], suffix: str) -> None:
    key = f"reports/budget{suffix}"
    fmt = format_for(key)
    assert fmt is not None
    parsed = parse_with(fmt, key, office[suffix])
    assert parsed.language == "markdown"
    assert parsed.text == WORKBOOK_TEXT
    assert parsed.locations == (Location(1, sheet="Q1 Sales"), Location(9, sheet="Notes"))
    _check_locations(parsed.text, parsed.locations)


def test_libreoffice_wrote_the_named_formats(office: dict[str, bytes]) -> None:
    def content_types(data: bytes) -> str:
        return zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml").decode()

    assert "sheet.macroEnabled.main+xml" in content_types(office[".xlsm"])
    assert "spreadsheetml.template.main+xml" in content_types(office[".xltx"])
    assert office[".xls"].startswith(b"\xd0\xcf\x11\xe0")  # an OLE file, not a zip


def test_xls_and_xlsx_give_the_same_document(office: dict[str, bytes]) -> None:
    assert parse_xls("b.xls", office[".xls"]) == parse_xlsx("b.xlsx", office[".xlsx"])


def test_csv_is_one_table_without_locations(office: dict[str, bytes]) -> None:
    parsed = parse_csv("exports/budget.csv", office["utf8.csv"])
    assert parsed.text == SALES_TABLE  # LibreOffice writes the first sheet only
    assert parsed.locations == ()
    assert parsed.language == "markdown"


def test_csv_in_latin1_is_refused_naming_the_offset(office: dict[str, bytes]) -> None:
    data = office["latin1.csv"]
    offset = data.index(b"Z\xfcrich") + 1
    with pytest.raises(ParseError) as caught:
        parse_csv("budget.csv", data)
    assert (
        caught.value.reason == f"not valid UTF-8 text (invalid start byte 0xfc at offset {offset})"
    )


def test_csv_bom_semicolons_quotes_and_offsets_after_the_bom() -> None:
    data = '\ufeffname;note\n"Smith; J";"said ""hi"""\n\n;\nLee;\n'.encode()
    parsed = parse_csv("people.csv", data)
    assert parsed.text == ('| name | note |\n| --- | --- |\n| Smith; J | said "hi" |\n| Lee |  |')
    with pytest.raises(ParseError) as caught:
        parse_csv("bad.csv", b"\xef\xbb\xbfa,b\n\xff,1\n")
    assert caught.value.reason == "not valid UTF-8 text (invalid start byte 0xff at offset 7)"


def test_csv_with_one_column_falls_back_to_commas() -> None:
    parsed = parse_csv("names.csv", b"name\nalpha\nbeta gamma\n")
    assert parsed.text == "| name |\n| --- |\n| alpha |\n| beta gamma |"


def test_encrypted_workbooks_are_refused(office: dict[str, bytes]) -> None:
    import msoffcrypto.format.ooxml  # dev-only: LibreOffice 7.4 cannot encrypt .xlsx

    with pytest.raises(ParseError) as caught:
        parse_with(format_for("a.xls"), "a.xls", office["encrypted.xls"])  # type: ignore[arg-type]
    assert caught.value.reason == "encrypted Excel 97-2003 workbook (a password is required)"

    encrypted = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(office[".xlsx"])).encrypt("secret", encrypted)
    with pytest.raises(ParseError) as caught:
        parse_with(format_for("a.xlsx"), "a.xlsx", encrypted.getvalue())  # type: ignore[arg-type]
    assert caught.value.reason == "encrypted Excel workbook (a password is required)"


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("a.xlsx", "Excel workbook"),
        ("a.xlsm", "Excel macro-enabled workbook"),
        ("a.xls", "Excel 97-2003 workbook"),
    ],
)
def test_corrupt_workbooks_name_their_type(office: dict[str, bytes], key: str, label: str) -> None:
    suffix = key[1:]
    data = office[suffix][: len(office[suffix]) // 2] if suffix != ".xls" else b"not xls" * 99
    fmt = format_for(key)
    assert fmt is not None
    with pytest.raises(ParseError) as caught:
        parse_with(fmt, key, data)
    assert caught.value.reason.startswith(f"corrupt {label} (")


def test_large_sheet_with_a_stale_dimension_keeps_every_row() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Big"
    sheet.append(["n", "square", "label"])
    for n in range(1, 3001):
        sheet.append([n, n * n, f"row {n}"])
    buffer = io.BytesIO()
    book.save(buffer)
    # Some writers leave <dimension ref="A1"/>: read-only openpyxl would stop at row 1.
    stale = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(stale, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
                assert count == 1
            dst.writestr(item, data)
    parsed = parse_xlsx("big.xlsx", stale.getvalue())
    lines = parsed.text.split("\n")
    assert lines[:4] == ["## Big", "", "| n | square | label |", "| --- | --- | --- |"]
    assert len(lines) == 4 + 3000
    assert lines[-1] == "| 3000 | 9000000 | row 3000 |"


def test_chart_sheets_are_skipped() -> None:
    book = openpyxl.Workbook()
    data = book.active
    assert data is not None
    data.title = "Data"
    for row in (["x", "y"], [1, 2], [2, 4]):
        data.append(row)
    chart = BarChart()
    chart.add_data(Reference(data, min_col=2, min_row=1, max_row=3), titles_from_data=True)
    book.create_chartsheet("Chart").add_chart(chart)
    buffer = io.BytesIO()
    book.save(buffer)
    assert "xl/chartsheets/sheet1.xml" in zipfile.ZipFile(buffer).namelist()
    parsed = parse_xlsx("chart.xlsx", buffer.getvalue())
    assert parsed.text == "## Data\n\n| x | y |\n| --- | --- |\n| 1 | 2 |\n| 2 | 4 |"
    assert parsed.locations == (Location(1, sheet="Data"),)
