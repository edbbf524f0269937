"""EPUB ebooks exported by LibreOffice Writer, parsed chapter by chapter in spine order."""

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from sync_pipelines.core.documents.ebook import parse_epub
from sync_pipelines.core.documents.errors import ParseError
from sync_pipelines.core.documents.registry import FORMATS_BY_SUFFIX, parse_with
from tests.test_sync_pipelines.office_helpers import convert
from tests.test_sync_pipelines.test_documents_word import (
    PICTURE_WORD,
    TABLE_ROW,
    write_report_docx,
)

CHAPTERS = ("# Chapter One Harbour", "# Chapter Two Mountain", "# Chapter Three Estuary")


def write_book_docx(path: Path) -> Path:
    """A walking guide in three chapters (``Heading 1``), with a list and a table."""
    import docx

    document = docx.Document()
    document.add_heading("Chapter One Harbour", level=1)
    document.add_paragraph("The harbour walk starts at the old customs house.")
    document.add_paragraph("Sturdy boots", style="List Bullet")
    document.add_paragraph("Tide timetable", style="List Bullet")
    document.add_heading("Chapter Two Mountain", level=1)
    document.add_paragraph("The mountain path climbs through heather.")
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(
        table.rows, [("Stage", "Distance"), ("Ridge crossing", "7 km")], strict=True
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Chapter Three Estuary", level=1)
    document.add_paragraph("Herons wait on the mudflats at low tide.")
    document.save(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A three-chapter guide and the Word report, exported as EPUB by LibreOffice Writer."""
    out = tmp_path_factory.mktemp("epub")
    return {
        "book": convert(write_book_docx(out / "walks.docx"), ".epub", out),
        "report": convert(write_report_docx(out / "report.docx"), ".epub", out),
    }


def rewrite(
    epub: bytes,
    change: Callable[[str, bytes], bytes | None] | None = None,
    *,
    add: dict[str, bytes] | None = None,
    descending: bool = False,
) -> bytes:
    """The EPUB with each member passed through ``change`` (``None`` drops it), members in
    ``add`` added or replaced, sorted by name from last to first if ``descending``."""
    out = io.BytesIO()
    add = add or {}
    with zipfile.ZipFile(io.BytesIO(epub)) as source, zipfile.ZipFile(out, "w") as target:
        infos = source.infolist()
        if descending:
            infos.sort(key=lambda info: info.filename, reverse=True)
        for info in infos:
            data = source.read(info)
            data = change(info.filename, data) if change else data
            if data is not None and info.filename not in add:
                target.writestr(info, data)
        for name, data in add.items():
            target.writestr(name, data)
    return out.getvalue()


def test_chapters_in_spine_order_with_headings(files: dict[str, Path]) -> None:
    with zipfile.ZipFile(files["book"]) as archive:
        sections = [name for name in archive.namelist() if "/sections/" in name]
    assert len(sections) == 3  # LibreOffice split the book at its headings
    parsed = parse_with(FORMATS_BY_SUFFIX[".epub"], "books/walks.epub", files["book"].read_bytes())
    lines = parsed.text.split("\n")
    # LibreOffice writes headings as styled paragraphs: the contents supply them.
    positions = [lines.index(heading) for heading in CHAPTERS]
    assert positions == sorted(positions)
    assert lines.count("# Chapter One Harbour") == 1  # the navigation document is not read
    assert "The harbour walk starts at the old customs house." in lines
    assert "Sturdy boots" in lines and "Tide timetable" in lines
    assert "| Ridge crossing | 7 km |" in lines
    assert (parsed.language, parsed.locations) == ("markdown", ())


def test_spine_order_not_archive_order(files: dict[str, Path]) -> None:
    reordered = rewrite(files["book"].read_bytes(), descending=True)
    sections = [n for n in zipfile.ZipFile(io.BytesIO(reordered)).namelist() if "/sections/" in n]
    assert sections == sorted(sections, reverse=True)  # the last chapter first in the archive
    lines = parse_epub("walks.epub", reordered).text.split("\n")
    positions = [lines.index(heading) for heading in CHAPTERS]
    assert positions == sorted(positions)


def test_ncx_contents_of_an_epub2(files: dict[str, Path]) -> None:
    def no_nav(name: str, data: bytes) -> bytes | None:
        if name.endswith("toc.xhtml"):
            return None
        if name.endswith(".opf"):
            return re.sub(rb'<item [^>]*properties="nav"[^>]*/>', b"", data)
        return data

    text = parse_epub("walks.epub", rewrite(files["book"].read_bytes(), no_nav)).text
    assert all(heading in text.split("\n") for heading in CHAPTERS)


def test_report_export_and_skipped_pictures(files: dict[str, Path]) -> None:
    text = parse_epub("report.epub", files["report"].read_bytes()).text
    lines = text.split("\n")
    assert lines[0] == "# Harbour Inspection Report"
    assert TABLE_ROW in lines
    assert "Rusty bollard near pier" in lines
    assert PICTURE_WORD not in text and "![" not in text and "image0001" not in text


def test_drm_protected_ebook(files: dict[str, Path]) -> None:
    encryption = b"""<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
  xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
 <enc:EncryptedData>
  <enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
  <enc:CipherData><enc:CipherReference URI="OEBPS/sections/section0001.xhtml"/></enc:CipherData>
 </enc:EncryptedData>
</encryption>"""
    locked = rewrite(files["book"].read_bytes(), add={"META-INF/encryption.xml": encryption})
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".epub"], "locked.epub", locked)
    assert caught.value.reason == "encrypted EPUB ebook (DRM)"
    # Obfuscated fonts alone are no DRM.
    fonts = encryption.replace(
        b"http://www.w3.org/2001/04/xmlenc#aes128-cbc", b"http://www.idpf.org/2008/embedding"
    ).replace(b"OEBPS/sections/section0001.xhtml", b"OEBPS/fonts/serif.otf")
    text = parse_epub("fonts.epub", rewrite(locked, add={"META-INF/encryption.xml": fonts})).text
    assert "# Chapter Two Mountain" in text.split("\n")


def test_missing_container_or_package(files: dict[str, Path]) -> None:
    no_container = rewrite(
        files["book"].read_bytes(),
        lambda name, data: None if name == "META-INF/container.xml" else data,
    )
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".epub"], "a.epub", no_container)
    assert caught.value.reason == "corrupt EPUB ebook (no META-INF/container.xml)"
    no_package = rewrite(
        files["book"].read_bytes(), lambda name, data: None if name.endswith(".opf") else data
    )
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".epub"], "b.epub", no_package)
    assert (
        caught.value.reason == "corrupt EPUB ebook (package document OEBPS/content.opf is missing)"
    )


def test_corrupt_bytes(files: dict[str, Path]) -> None:
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".epub"], "bad.epub", b"%PDF-1.4 not an ebook")
    assert caught.value.reason == "corrupt EPUB ebook (not a zip archive)"
    broken_opf = rewrite(
        files["book"].read_bytes(), lambda name, data: data[:100] if name.endswith(".opf") else data
    )
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".epub"], "c.epub", broken_opf)
    assert caught.value.reason.startswith("corrupt EPUB ebook (OEBPS/content.opf:")


def test_zip_bomb_is_refused(files: dict[str, Path]) -> None:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(files["book"]) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        with target.open("OEBPS/padding.bin", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(201):
                member.write(zeros)
    bomb = out.getvalue()
    assert len(bomb) < 2_000_000
    with pytest.raises(ParseError) as caught:
        parse_with(FORMATS_BY_SUFFIX[".epub"], "bomb.epub", bomb)
    assert (
        caught.value.reason == "EPUB ebook too large (201 MB uncompressed, over the 200 MB limit)"
    )
