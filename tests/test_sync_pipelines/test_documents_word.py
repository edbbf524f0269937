"""Word documents (``.docx``, ``.doc``) made by python-docx and LibreOffice, parsed to markdown.

The helpers here (a picture with words, a report with headings, lists, a table and
pictures, a LibreOffice save with a password) are shared with the OpenDocument and EPUB tests.
"""

import io
import os
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from sync_pipelines.core.documents import legacy, word
from sync_pipelines.core.documents.errors import ParseError, check_not_encrypted_ooxml
from sync_pipelines.core.documents.registry import FORMATS_BY_SUFFIX, parse_with
from sync_pipelines.core.documents.word import parse_doc
from sync_pipelines.core.types import ParsedDocument
from tests.test_sync_pipelines.office_helpers import convert, soffice

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PICTURE_WORD = "ZX4471"  # what OCR must read in the report's picture
TABLE_ROW = "| Crane Gantry B | Replace cables | 2 |"


def text_png(text: str, size: int = 48) -> bytes:
    """A PNG of ``text`` in black on white, with a margin, as OCR reads it."""
    font = ImageFont.truetype(FONT, size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 80, bottom - top + 80), "white")
    ImageDraw.Draw(image).text((40 - left, 40 - top), text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 120), "white").save(out, "PNG")
    return out.getvalue()


def write_report_docx(path: Path) -> Path:
    """A Word report: three heading levels, bold, two lists, a table and two pictures."""
    import docx
    from docx.shared import Inches

    document = docx.Document()
    document.add_heading("Harbour Inspection Report", level=1)
    intro = document.add_paragraph("The inspection found ")
    intro.add_run("three urgent repairs").bold = True
    intro.add_run(" along the quay.")
    document.add_heading("Findings", level=2)
    document.add_paragraph("Rusty bollard near pier", style="List Bullet")
    document.add_paragraph("Cracked lamp post", style="List Bullet")
    document.add_paragraph("Check the anchors", style="List Number")
    document.add_paragraph("Paint the railings", style="List Number")
    document.add_heading("Pier Seven", level=3)
    table = document.add_table(rows=3, cols=3)
    table.style = "Table Grid"
    rows = [("Asset", "Action", "Priority"), ("Crane Gantry B", "Replace cables", "2"),
            ("Slipway", "Clear algae", "3")]  # fmt: skip
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("Before picture.")
    document.add_picture(io.BytesIO(text_png(f"{PICTURE_WORD} LIGHTHOUSE")), width=Inches(3.5))
    document.add_paragraph("After picture.")
    document.add_paragraph("Blank picture follows.")
    document.add_picture(io.BytesIO(blank_png()), width=Inches(2))
    document.add_paragraph("Blank picture ends.")
    document.save(path)
    return path


_SAVE_MACRO = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1"
 script:language="StarBasic">
Sub SaveWithPassword(source As String, target As String, filterName As String)
  Dim load(0) As New com.sun.star.beans.PropertyValue
  load(0).Name = &quot;Hidden&quot;
  load(0).Value = True
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(source), &quot;_blank&quot;, 0, load())
  Dim store(1) As New com.sun.star.beans.PropertyValue
  store(0).Name = &quot;FilterName&quot;
  store(0).Value = filterName
  store(1).Name = &quot;Password&quot;
  store(1).Value = &quot;hunter2&quot;
  doc.storeToURL(ConvertToURL(target), store())
  doc.close(True)
End Sub
</script:module>
"""


def save_with_password(source: Path, target: Path, filter_name: str, out_dir: Path) -> Path:
    """Have LibreOffice save ``source`` as ``target`` encrypted with a password.

    ``--convert-to`` takes no password, so a Basic macro in the profile that
    :func:`office_helpers.convert` made in ``out_dir`` (run a conversion there first) loads
    the document and stores it with one.
    """
    module = out_dir / ".lo-profile" / "user" / "basic" / "Standard" / "Module1.xba"
    assert module.is_file(), "run office_helpers.convert in out_dir first"
    module.write_text(_SAVE_MACRO, encoding="utf-8")
    macro = (
        "macro:///Standard.Module1.SaveWithPassword("
        f'"{source.resolve()}","{target.resolve()}","{filter_name}")'
    )
    profile = (out_dir / ".lo-profile").resolve().as_uri()
    subprocess.run(
        [soffice(), f"-env:UserInstallation={profile}", "--headless", "--norestore", macro],
        check=True,
        capture_output=True,
        timeout=180,
    )
    assert target.is_file(), f"LibreOffice did not write {target}"
    return target


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The report as .docx, as LibreOffice's .doc, and as a password-protected .doc."""
    out = tmp_path_factory.mktemp("word")
    docx_path = write_report_docx(out / "report.docx")
    doc_path = convert(docx_path, ".doc", out)
    locked = save_with_password(docx_path, out / "locked.doc", "MS Word 97", out)
    return {"docx": docx_path, "doc": doc_path, "locked_doc": locked}


@pytest.fixture(scope="module")
def parsed(files: dict[str, Path]) -> dict[str, ParsedDocument]:
    """The report parsed once from .docx and once from .doc (OCR takes seconds a picture)."""
    return {
        "docx": parse_with(FORMATS_BY_SUFFIX[".docx"], "r.docx", files["docx"].read_bytes()),
        "doc": parse_with(FORMATS_BY_SUFFIX[".doc"], "old/r.doc", files["doc"].read_bytes()),
    }


def check_report(text: str) -> None:
    """The report's structure and words, as markdown."""
    lines = text.split("\n")
    for line in ("# Harbour Inspection Report", "## Findings", "### Pier Seven",
                 "- Rusty bollard near pier", "- Cracked lamp post", TABLE_ROW,
                 "| Asset | Action | Priority |"):  # fmt: skip
        assert line in lines, f"{line!r} missing from:\n{text}"
    assert lines.index("## Findings") < lines.index("- Rusty bollard near pier")
    assert lines.index("- Cracked lamp post") < lines.index("### Pier Seven")
    assert lines.index("### Pier Seven") < lines.index(TABLE_ROW)
    assert lines[lines.index("| Asset | Action | Priority |") + 1] == "| --- | --- | --- |"
    # OCR text stands where the picture is; the blank picture leaves nothing behind.
    before, after = lines.index("Before picture."), lines.index("After picture.")
    assert any(PICTURE_WORD in line for line in lines[before:after]), text
    assert "Blank picture follows.\n\nBlank picture ends." in text


def test_docx_becomes_markdown(parsed: dict[str, ParsedDocument]) -> None:
    check_report(parsed["docx"].text)
    lines = parsed["docx"].text.split("\n")
    assert "1. Check the anchors" in lines and "2. Paint the railings" in lines
    assert "The inspection found **three urgent repairs** along the quay." in lines
    assert parsed["docx"].language == "markdown"
    assert parsed["docx"].locations == ()


def test_doc_is_converted_by_libreoffice(parsed: dict[str, ParsedDocument]) -> None:
    check_report(parsed["doc"].text)
    assert parsed["doc"].language == "markdown"


def test_docx_saved_under_doc_name_needs_no_libreoffice(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy, "convert", _no_libreoffice)
    monkeypatch.setattr(word, "ocr_image", lambda image: "")  # not what this test is about
    parsed = parse_doc("renamed.doc", files["docx"].read_bytes())
    assert "# Harbour Inspection Report" in parsed.text.split("\n")


def _no_libreoffice(*args: object) -> bytes:
    raise AssertionError("LibreOffice must not be run")


def test_encrypted_docx(files: dict[str, Path]) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    locked = io.BytesIO()
    OOXMLFile(io.BytesIO(files["docx"].read_bytes())).encrypt("hunter2", locked)
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".docx"], "secret.docx", locked.getvalue())
    assert caught.value.reason == "encrypted Word document (a password is required)"


def test_encrypted_doc_from_libreoffice(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy, "convert", _no_libreoffice)  # recognised before converting
    with pytest.raises(ParseError) as caught:
        parse_doc("secret.doc", files["locked_doc"].read_bytes())
    assert caught.value.reason == "encrypted Word 97-2003 document (a password is required)"


def test_encryption_stream_names_in_text_are_not_encryption(tmp_path: Path) -> None:
    # A .doc (OLE, text stored as UTF-16) whose text names the streams, saved as .docx.
    import docx

    source = tmp_path / "streams.docx"
    document = docx.Document()
    document.add_paragraph("Office keeps EncryptionInfo and EncryptedPackage streams.")
    document.save(source)
    data = convert(source, ".doc", tmp_path).read_bytes()
    assert "EncryptionInfo".encode("utf-16-le") in data  # what a text search would match
    check_not_encrypted_ooxml("streams.docx", data, "Word document")
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".docx"], "streams.docx", data)
    assert caught.value.reason.startswith("corrupt Word document")


def test_encryption_directory_far_into_the_file() -> None:
    # The compound file format lets the directory sectors sit anywhere, past 64 KiB too.
    magic = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    name = "EncryptedPackage".encode("utf-16-le")
    entry = name.ljust(64, b"\0") + (len(name) + 2).to_bytes(2, "little") + b"\x02"
    body = magic + os.urandom(200 * 512 - len(magic))
    with pytest.raises(ParseError, match="encrypted Word document"):
        check_not_encrypted_ooxml("big.docx", body + entry.ljust(128, b"\0"), "Word document")
    # The same bytes off the 128-byte grid of directory entries are no entry.
    check_not_encrypted_ooxml("big.docx", body + b"\0\0" + entry.ljust(128, b"\0"), "Word")


def test_corrupt_docx(files: dict[str, Path]) -> None:
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".docx"], "bad.docx", b"this is no zip archive")
    assert caught.value.reason == "corrupt Word document (not a zip archive)"
    truncated = files["docx"].read_bytes()[:5000]
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".docx"], "cut.docx", truncated)
    assert caught.value.reason.startswith("corrupt Word document")


def test_garbage_doc_has_a_clear_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # LibreOffice would import any bytes as plain text: they are refused before it runs.
    monkeypatch.setattr(legacy, "convert", _no_libreoffice)
    started = time.monotonic()
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".doc"], "junk.doc", b"\x00\x01 plain junk " * 100)
    reason = "corrupt Word 97-2003 document (not a Word file: unknown signature)"
    assert caught.value.reason == reason
    assert time.monotonic() - started < 1


def test_damaged_ole_doc_is_reported_by_libreoffice(files: dict[str, Path]) -> None:
    damaged = files["doc"].read_bytes()[:1024]  # the OLE header, no streams
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".doc"], "damaged.doc", damaged)
    assert caught.value.reason == "corrupt Word 97-2003 document (LibreOffice could not read it)"
