"""Contract of `sync_pipelines.core.parsing`: `parse_object` turns a fetched object's bytes into
a `ParsedDocument` — PDF markdown page by page (pages joined by a blank line, each page's
first line in `locations`; the PDF parser's own contract is in test_documents_pdf.py), HTML as
ATX-heading markdown without scripts/styles (language "markdown"), any other object as strict
UTF-8 text with a BOM stripped, CRLF normalised to LF and the language taken from the key;
bytes that cannot become text (corrupt or password-protected PDF, invalid UTF-8, NUL bytes) raise
`ParseError` whose message names the key and the reason; `detect_language` maps file names to
language names (None for plain text).
"""

import io

import pytest
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas

from sync_pipelines.core.parsing import ParseError, detect_language, parse_object
from sync_pipelines.core.types import Location, ParsedDocument


def make_pdf(pages: list[str], encrypt: object = None) -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, encrypt=encrypt)
    for page in pages:
        for number, line in enumerate(page.split("\n")):
            pdf.drawString(72, 720 - 14 * number, line)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


@pytest.mark.parametrize(
    ("key", "language"),
    [
        ("src/app.py", "python"),
        ("types.pyi", "python"),
        ("web/index.js", "javascript"),
        ("web/App.jsx", "javascript"),
        ("web/api.ts", "typescript"),
        ("web/App.TSX", "tsx"),
        ("cmd/main.go", "go"),
        ("src/lib.rs", "rust"),
        ("Main.java", "java"),
        ("lib/x.c", "c"),
        ("lib/x.h", "c"),
        ("lib/x.cpp", "cpp"),
        ("scripts/run.sh", "bash"),
        ("README.md", "markdown"),
        ("site/page.html", "html"),
        ("conf.yaml", "yaml"),
        ("conf.yml", "yaml"),
        ("pyproject.toml", "toml"),
        ("data.json", "json"),
        ("docker/Dockerfile", "dockerfile"),
        ("https://example.com/docs/guide.md?x=1", "markdown"),
        ("notes.txt", None),
        ("LICENSE", None),
        ("archive.tar.gz", None),
        ("", None),
    ],
)
def test_detect_language(key: str, language: str | None) -> None:
    assert detect_language(key) == language


def test_pdf_pages_are_joined_by_a_blank_line_and_located() -> None:
    data = make_pdf(["Page one text\nsecond line", "Page two text"])
    assert parse_object("reports/q1.pdf", data) == ParsedDocument(
        "Page one text\nsecond line\n\nPage two text",
        "markdown",
        (Location(1, page=1), Location(4, page=2)),
    )


def test_pdf_is_recognised_by_magic_or_content_type() -> None:
    data = make_pdf(["Magic works"])
    assert parse_object("blob", data).text == "Magic works"
    assert parse_object("blob", data, "application/pdf").text == "Magic works"


def test_corrupt_pdf_is_a_parse_error() -> None:
    data = make_pdf(["Page one"])
    with pytest.raises(ParseError) as caught:
        parse_object("docs/broken.pdf", data[: len(data) // 2])
    assert caught.value.key == "docs/broken.pdf"
    assert caught.value.reason.startswith("corrupt PDF (")
    assert str(caught.value).startswith("docs/broken.pdf: corrupt PDF (")


def test_pdf_with_a_user_password_is_a_parse_error() -> None:
    with pytest.raises(
        ParseError, match=r"^secret\.pdf: encrypted PDF \(a password is required\)$"
    ):
        parse_object("secret.pdf", make_pdf(["hidden"], encrypt="pw"))


def test_pdf_encrypted_with_an_empty_user_password_is_read() -> None:
    encryption = pdfencrypt.StandardEncryption("", ownerPassword="owner")
    assert parse_object("open.pdf", make_pdf(["readable"], encrypt=encryption)).text == "readable"


HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Guide</title><style>body { color: red }</style>
<script>var tracking = "should vanish";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/pricing">Pricing</a></nav>
<div role="navigation"><a href="/docs">Docs</a></div>
<h1>Install</h1>
<p>Run the <b>installer</b>.</p>
<script>alert("no")</script><noscript>Enable JavaScript</noscript>
<h2>Options</h2>
<ul><li>fast</li><li>safe</li></ul>
<footer>Copyright 2026 Acme</footer>
<pre><code># not a heading
x = 1</code></pre>
</body></html>"""


def test_html_becomes_markdown_without_scripts_navigation_or_footer() -> None:
    doc = parse_object("site/guide.html", HTML_PAGE)
    assert doc.language == "markdown"
    assert doc.text == (
        "# Install\n\nRun the **installer**.\n\n## Options\n\n- fast\n- safe\n\n"
        "```\n# not a heading\nx = 1\n```"
    )


def test_html_is_recognised_by_content_type_or_sniffing() -> None:
    page = b"<html><body><h1>Hi</h1></body></html>"
    assert parse_object("pages/1", page, "text/html; charset=utf-8") == ParsedDocument(
        "# Hi", "markdown"
    )
    assert parse_object("pages/1", b"\n  <!doctype HTML>" + page) == ParsedDocument(
        "# Hi", "markdown"
    )
    assert parse_object("snippet.py", b"<html>").language == "python"


def test_markdown_and_code_pass_through_with_their_language() -> None:
    markdown = "# Title\n\nSome *text*.\n"
    assert parse_object("README.md", markdown.encode()) == ParsedDocument(markdown, "markdown")
    code = "def f():\n    return 'é'\n"
    assert parse_object("pkg/mod.py", code.encode()) == ParsedDocument(code, "python")
    assert parse_object("notes.txt", b"plain") == ParsedDocument("plain", None)


def test_invalid_utf8_names_the_byte_and_offset() -> None:
    with pytest.raises(ParseError) as caught:
        parse_object("docs/a.bin", b"hello world\xff\xfe")
    assert (
        str(caught.value)
        == "docs/a.bin: not valid UTF-8 text (invalid start byte 0xff at offset 11)"
    )
    assert caught.value.key == "docs/a.bin"


def test_invalid_utf8_offset_counts_the_bom() -> None:
    with pytest.raises(ParseError, match=r"invalid continuation byte 0xc3 at offset 4\)$"):
        parse_object("a.txt", b"\xef\xbb\xbfa\xc3(")


def test_nul_bytes_are_binary_content() -> None:
    with pytest.raises(ParseError) as caught:
        parse_object("img/logo.txt", b"abc\x00def")
    assert caught.value.reason == "binary content (NUL byte at offset 3)"


def test_bom_is_stripped_and_crlf_normalised() -> None:
    data = b"\xef\xbb\xbfline one\r\nline two\r\n"
    assert parse_object("a.md", data) == ParsedDocument("line one\nline two\n", "markdown")


def test_empty_object_is_an_empty_document() -> None:
    assert parse_object("empty.py", b"") == ParsedDocument("", "python")
    assert parse_object("empty.pdf", b"") == ParsedDocument("", "markdown")
    assert parse_object("empty.html", b"") == ParsedDocument("", "markdown")


def test_html_in_a_declared_legacy_charset_is_decoded() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Café crème</p></body></html>'
    data = page.encode("latin-1")
    assert parse_object("menu.html", data).text == "Café crème"
    assert parse_object("menu", data, "text/html; charset=ISO-8859-1").text == "Café crème"


def test_html_with_nul_bytes_is_binary_content() -> None:
    with pytest.raises(ParseError, match=r"^page\.html: binary content \(NUL byte at offset 6\)$"):
        parse_object("page.html", b"<html>\x00</html>")
