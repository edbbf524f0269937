"""Presentation parsing: a deck written by python-pptx, saved by LibreOffice as .pptx and .ppt."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pptx import Presentation
from pptx.util import Inches

from sync_pipelines.core.documents import errors
from sync_pipelines.core.documents.errors import ParseError
from sync_pipelines.core.documents.registry import format_for, parse_with
from sync_pipelines.core.documents.slides import parse_pptx
from sync_pipelines.core.types import ParsedDocument
from tests.test_sync_pipelines.office_helpers import convert

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BULLETS = ["- Revenue grew", "  - Europe up 12%", "    - Germany led", "- Costs fell"]


def _picture_of_words() -> io.BytesIO:
    image = Image.new("RGB", (640, 160), "white")
    ImageDraw.Draw(image).text(
        (20, 40), "ZEBRA CROSSING", fill="black", font=ImageFont.truetype(FONT, 64)
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def _source_deck(path: Path) -> None:
    deck = Presentation()
    title = deck.slides.add_slide(deck.slide_layouts[0])  # title slide
    title.shapes.title.text = "Quarterly Review"
    title.placeholders[1].text = "Prepared by the finance team"

    bullets = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    bullets.shapes.title.text = "Highlights"
    frame = bullets.placeholders[1].text_frame
    frame.text = "Revenue grew"
    for text, level in [("Europe up 12%", 1), ("Germany led", 2), ("Costs fell", 0)]:
        paragraph = frame.add_paragraph()
        paragraph.text, paragraph.level = text, level
    bullets.notes_slide.notes_text_frame.text = "Mention the hiring freeze"

    figures = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    figures.shapes.title.text = "Figures"
    # Added first but lowest on the slide: reading order must put it last.
    footnote = figures.shapes.add_textbox(Inches(1), Inches(6.5), Inches(4), Inches(0.5))
    footnote.text_frame.text = "Footnote text lower"
    table = figures.shapes.add_table(3, 2, Inches(0.5), Inches(1.5), Inches(4), Inches(1.5)).table
    for r, row in enumerate([["Region", "Units"], ["North", "42"], ["a|b", "7"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    figures.shapes.add_picture(_picture_of_words(), Inches(5), Inches(1.5), Inches(4))
    group = figures.shapes.add_group_shape()
    caption = group.shapes.add_textbox(Inches(1), Inches(4.5), Inches(3), Inches(0.5))
    caption.text_frame.text = "Grouped caption"

    closing = deck.slides.add_slide(deck.slide_layouts[6])  # blank: no title
    closing.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1)).text = "Thanks all"
    deck.save(str(path))


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The deck as LibreOffice saves it, by suffix; LibreOffice runs twice."""
    folder = tmp_path_factory.mktemp("slides")
    source = folder / "src" / "review.pptx"
    source.parent.mkdir()
    _source_deck(source)
    out = folder / "out"
    return {suffix: convert(source, suffix, out).read_bytes() for suffix in (".pptx", ".ppt")}


@pytest.fixture(scope="module")
def parsed(office: dict[str, bytes]) -> dict[str, ParsedDocument]:
    """Each file parsed once through the registry (the .ppt runs LibreOffice again)."""
    results = {}
    for suffix, data in office.items():
        key = f"decks/review{suffix}"
        fmt = format_for(key)
        assert fmt is not None
        results[suffix] = parse_with(fmt, key, data)
    return results


def _slides(doc: ParsedDocument) -> dict[int, list[str]]:
    """The lines of each slide, by slide number, cut at the locations."""
    lines = doc.text.split("\n")
    starts = [location.line for location in doc.locations] + [len(lines) + 1]
    return {
        location.page: lines[location.line - 1 : end - 1]
        for location, end in zip(doc.locations, starts[1:], strict=True)
        if location.page is not None
    }


@pytest.mark.parametrize("suffix", [".pptx", ".ppt"])
def test_slide_numbers_and_headings(parsed: dict[str, ParsedDocument], suffix: str) -> None:
    doc = parsed[suffix]
    assert doc.language == "markdown"
    assert [location.page for location in doc.locations] == [1, 2, 3, 4]
    assert {location.sheet for location in doc.locations} == {None}
    headings = [doc.text.split("\n")[location.line - 1] for location in doc.locations]
    assert headings == [
        "## Slide 1: Quarterly Review",
        "## Slide 2: Highlights",
        "## Slide 3: Figures",
        "## Slide 4",
    ]


@pytest.mark.parametrize("suffix", [".pptx", ".ppt"])
def test_slide_contents(parsed: dict[str, ParsedDocument], suffix: str) -> None:
    slides = _slides(parsed[suffix])
    assert "Prepared by the finance team" in slides[1]  # a subtitle is no bullet
    text2 = "\n".join(slides[2])
    assert "\n".join(BULLETS) in text2
    assert "### Notes\n\nMention the hiring freeze" in text2
    assert sum("hiring freeze" in line for lines in slides.values() for line in lines) == 1
    text3 = "\n".join(slides[3])
    assert "| Region | Units |\n| --- | --- |\n| North | 42 |\n| a\\|b | 7 |" in text3
    assert text3.index("Grouped caption") < text3.index("Footnote text lower")
    assert text3.index("| Region |") < text3.index("Grouped caption")
    assert "Thanks all" in slides[4]


@pytest.mark.parametrize("suffix", [".pptx", ".ppt"])
def test_picture_text_is_ocred(parsed: dict[str, ParsedDocument], suffix: str) -> None:
    slides = _slides(parsed[suffix])
    assert "ZEBRA" in "\n".join(slides[3]).upper()  # OCR may run the two words together
    assert "ZEBRA" not in "\n".join(slides[1] + slides[2] + slides[4]).upper()


def test_ppt_round_trip_matches_pptx(parsed: dict[str, ParsedDocument]) -> None:
    assert parsed[".ppt"] == parsed[".pptx"]


def test_python_pptx_source_parses_like_libreoffice_output(
    tmp_path: Path, parsed: dict[str, ParsedDocument]
) -> None:
    # Bullets come from the body placeholder here; LibreOffice writes explicit <a:buChar>.
    source = tmp_path / "source.pptx"
    _source_deck(source)
    assert parse_pptx("source.pptx", source.read_bytes()) == parsed[".pptx"]


def test_encrypted_presentation_is_refused(office: dict[str, bytes]) -> None:
    import msoffcrypto.format.ooxml  # dev-only: LibreOffice 7.4 cannot encrypt .pptx

    encrypted = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(office[".pptx"])).encrypt("pw", encrypted)
    with pytest.raises(ParseError) as caught:
        parse_with(format_for("a.pptx"), "a.pptx", encrypted.getvalue())  # type: ignore[arg-type]
    assert caught.value.reason == "encrypted PowerPoint presentation (a password is required)"


def test_too_many_slides_is_refused(
    office: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "MAX_PAGES", 3)
    with pytest.raises(ParseError) as caught:
        parse_pptx("big.pptx", office[".pptx"])
    assert caught.value.reason == "document has 4 slides, over the 3-page limit"


@pytest.mark.parametrize(
    ("key", "label"),
    [("a.pptx", "PowerPoint presentation"), ("a.ppt", "PowerPoint 97-2003 presentation")],
)
def test_corrupt_presentations_name_their_type(
    office: dict[str, bytes], key: str, label: str
) -> None:
    data = office[key[1:]]
    fmt = format_for(key)
    assert fmt is not None
    with pytest.raises(ParseError) as caught:
        parse_with(fmt, key, data[: len(data) // 3])
    assert caught.value.reason.startswith(f"corrupt {label} (")
