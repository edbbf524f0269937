"""Contract of the document registry and where chunks come from.

`format_for` picks a parser by the key's suffix (as the hosted service does), then by MIME
type, then by the PDF signature; `parse_with` turns anything a parser library raises into a
`ParseError` naming the type; `MarkdownBuilder` records the first line of each page, slide or
sheet; `build_records` turns those locations into `start_page`/`end_page`, `sheet` and
`end_sheet` chunk metadata, which invocation metadata may not overwrite; repository syncs
(`images=False`) read image files as text, so they fail as binary instead of being OCRed.
"""

import io
import zipfile

import pytest

from sync_pipelines.core.documents.builder import MarkdownBuilder, markdown_table
from sync_pipelines.core.documents.registry import DocumentFormat, format_for, parse_with
from sync_pipelines.core.parsing import ParseError, is_plain_text, parse_object
from sync_pipelines.core.records import ReservedMetadataKeyError, build_records
from sync_pipelines.core.types import Chunk, Location


@pytest.mark.parametrize(
    ("key", "content_type", "head", "label"),
    [
        ("a/Report.DOCX", None, b"", "Word document"),
        ("deck.pptx?download=1", "application/octet-stream", b"", "PowerPoint presentation"),
        ("book.epub", None, b"", "EPUB ebook"),
        ("scan.TIF", None, b"", "TIFF image"),
        ("data.csv", None, b"", "CSV file"),
        (
            "https://x.test/export",
            "application/vnd.ms-excel; charset=x",
            b"",
            "Excel 97-2003 workbook",
        ),
        ("blob", None, b"%PDF-1.7", "PDF"),
        ("notes.pdf", "text/plain", b"hello", "PDF"),
    ],
)
def test_format_by_suffix_then_mime_then_signature(
    key: str, content_type: str | None, head: bytes, label: str
) -> None:
    fmt = format_for(key, content_type, head)
    assert fmt is not None and fmt.label == label


@pytest.mark.parametrize("key", ["README.md", "src/app.py", "page.html", "LICENSE", "x.docx.bak"])
def test_text_keys_have_no_document_format(key: str) -> None:
    assert format_for(key, None, b"plain") is None
    assert is_plain_text(key, b"plain") is (not key.endswith(".html"))


def test_library_errors_become_named_parse_errors() -> None:
    with pytest.raises(ParseError) as caught:
        parse_object("q/report.docx", b"PK\x03\x04 not a zip")
    assert caught.value.key == "q/report.docx"
    assert caught.value.reason.startswith("corrupt Word document (")


def test_parse_errors_of_the_parser_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(key: str, data: bytes) -> None:
        raise ParseError(key, "encrypted Thing (a password is required)")

    monkeypatch.setattr("sync_pipelines.core.documents.images.parse_image", refuse, raising=True)
    fmt = format_for("x.png")
    assert fmt is not None
    with pytest.raises(ParseError, match=r"^x\.png: encrypted Thing"):
        parse_with(fmt, "x.png", b"\x89PNG")
    other = DocumentFormat(".x", "X file", "builtins:len")
    with pytest.raises(ParseError, match=r"^k: corrupt X file \(len\(\) takes exactly one"):
        parse_with(other, "k", b"")


def test_repository_images_are_not_ocred() -> None:
    with pytest.raises(ParseError, match="binary content"):
        parse_object("icons/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00", images=False)


def test_builder_records_the_first_line_of_each_location() -> None:
    doc = MarkdownBuilder()
    doc.mark(sheet="Q1")
    doc.block("## Q1\n")
    doc.block(markdown_table([["a", "b|c"], [1, None], ["x\ny", 2.5]]))
    doc.mark(sheet="Empty")
    doc.block("   ")
    doc.mark(sheet="Q2")
    doc.block("## Q2")
    parsed = doc.build()
    lines = parsed.text.split("\n")
    assert parsed.locations == (Location(1, sheet="Q1"), Location(8, sheet="Q2"))
    assert lines[0] == "## Q1" and lines[7] == "## Q2"
    assert lines[2:6] == ["| a | b\\|c |", "| --- | --- |", "| 1 |  |", "| x<br>y | 2.5 |"]


def test_chunks_get_pages_and_sheets_from_their_lines() -> None:
    chunks = [Chunk("a", 1, 3), Chunk("b", 4, 9), Chunk("c", 10, 10)]
    pages = (Location(1, page=1), Location(5, page=2), Location(10, page=3))
    records = build_records(
        chunks, document_key="d.pdf", version_key="v", chunk_strategy="lines", locations=pages
    )
    spans = [(r.metadata["start_page"], r.metadata["end_page"]) for r in records]
    assert spans == [(1, 1), (1, 2), (3, 3)]
    sheets = (Location(1, sheet="Stock"), Location(4, sheet="Suppliers"))
    records = build_records(
        chunks[:2], document_key="b.xlsx", version_key="v", chunk_strategy="lines", locations=sheets
    )
    assert [(r.metadata["sheet"], r.metadata.get("end_sheet")) for r in records] == [
        ("Stock", None),
        ("Suppliers", None),
    ]
    spanning = build_records(
        [Chunk("ab", 2, 5)], document_key="b", version_key="v", chunk_strategy="lines",
        locations=sheets,
    )  # fmt: skip
    assert spanning[0].metadata["sheet"] == "Stock"
    assert spanning[0].metadata["end_sheet"] == "Suppliers"
    plain = build_records(chunks, document_key="t", version_key="v", chunk_strategy="lines")
    assert not any({"start_page", "sheet"} & set(r.metadata) for r in plain)


def test_location_keys_are_reserved() -> None:
    with pytest.raises(ReservedMetadataKeyError, match="start_page"):
        build_records(
            [Chunk("a", 1, 1)],
            document_key="d",
            version_key="v",
            chunk_strategy="lines",
            extra_metadata={"start_page": 4},
        )


def test_zip_bombs_are_refused_for_every_zip_based_format() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("ppt/slides/slide1.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(201):
            member.write(b"\0" * 2**20)
    with pytest.raises(ParseError) as caught:
        parse_object("deck.pptx", buffer.getvalue())
    assert caught.value.reason == (
        "PowerPoint presentation too large (201 MB uncompressed, over the 200 MB limit)"
    )
