"""Page content extraction: HTML main content as markdown (trafilatura), title, links, meta robots.

- Text is decoded honouring the HTTP charset, then the ``<meta charset>``/BOM
  (``w3lib.encoding.html_to_unicode``), UTF-8 otherwise.
- The markdown is trafilatura's main-content extraction (navigation, headers, footers, scripts
  and other boilerplate dropped; headings, lists, tables and code kept); its minimum sizes are
  lowered so short pages are kept, and when it finds nothing its baseline text is used.
- Title: ``og:title``, else ``<title>``, else the first ``<h1>``.
- Links: ``<a href>`` and ``<area href>`` resolved against ``<base href>``/the page URL,
  http(s) only, fragments dropped. ``rel="nofollow"`` links are followed like any other (it is
  a ranking hint, not a crawl directive).
- ``<meta name="robots">`` (or ``name`` equal to the crawler's product token): ``noindex`` /
  ``none`` -> no content is kept (links still followed); ``nofollow`` / ``none`` -> the
  page's links are not followed.
"""

from configparser import ConfigParser
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import use_config
from w3lib.encoding import html_to_unicode

from sync_pipelines.core.documents.registry import DOCUMENT_MIME_TYPES
from sync_pipelines.web.urls import strip_fragment

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown"})
DOCUMENT_TYPES = frozenset(t for t in DOCUMENT_MIME_TYPES if not t.startswith("image/"))
"""PDF, Office, OpenDocument, CSV and EPUB answers, parsed by the document registry. Images are
not crawled: sites link screenshots and photos by the hundred, and OCR costs about a second
each."""
ACCEPTED_TYPES = HTML_TYPES | TEXT_TYPES | DOCUMENT_TYPES


def _config() -> ConfigParser:
    config = use_config()
    for key in ("MIN_EXTRACTED_SIZE", "MIN_OUTPUT_SIZE", "MIN_EXTRACTED_COMM_SIZE"):
        config.set("DEFAULT", key, "1")
    config.set("DEFAULT", "MIN_OUTPUT_COMM_SIZE", "1")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # signal-based: main thread only
    return config


CONFIG = _config()


@dataclass(frozen=True)
class ExtractedPage:
    """What a page yields: its markdown, title, links and meta robots directives."""

    markdown: str
    title: str | None
    links: tuple[str, ...]
    noindex: bool = False
    nofollow: bool = False


def decode_text(body: bytes, content_type_header: str | None) -> str:
    """Decode a text or HTML body honouring the HTTP charset, BOM and ``<meta charset>``."""
    _encoding, text = html_to_unicode(content_type_header, body)
    return str(text)


def _meta_robots(doc: lxml.html.HtmlElement, agent_token: str) -> set[str]:
    directives: set[str] = set()
    for meta in doc.iter("meta"):
        name = (meta.get("name") or "").strip().lower()
        if name in ("robots", agent_token):
            content = (meta.get("content") or "").lower()
            directives.update(d.strip() for d in content.split(",") if d.strip())
    return directives


def _title(doc: lxml.html.HtmlElement) -> str | None:
    og = doc.xpath("//meta[@property='og:title']/@content")
    candidates = [
        og[0] if og else None,
        doc.findtext(".//title"),
        doc.xpath("string(//h1[1])") if doc.find(".//h1") is not None else None,
    ]
    for candidate in candidates:
        text = " ".join(str(candidate or "").split())
        if text:
            return text
    return None


def _links(doc: lxml.html.HtmlElement, page_url: str) -> tuple[str, ...]:
    base = page_url
    base_href = doc.xpath("//base/@href")
    if base_href:
        base = urljoin(page_url, str(base_href[0]).strip())
    found: dict[str, None] = {}
    for element in doc.xpath("//a[@href] | //area[@href]"):
        href = (element.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        try:
            url = strip_fragment(urljoin(base, href))
            if urlsplit(url).scheme in ("http", "https"):
                found.setdefault(url, None)
        except ValueError:
            continue
    return tuple(found)


def extract_html(text: str, page_url: str, agent_token: str = "") -> ExtractedPage:
    """Extract main content (markdown), title, links and meta robots from an HTML page.

    Args:
        text: The decoded HTML.
        page_url: The page's URL (resolves relative links).
        agent_token: The crawler's robots product token (lower case) for ``<meta name=...>``.

    Returns:
        The extracted page; empty markdown when the page has no text.
    """
    try:
        parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
        doc = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):
        return ExtractedPage("", None, ())
    directives = _meta_robots(doc, agent_token)
    noindex = bool(directives & {"noindex", "none"})
    nofollow = bool(directives & {"nofollow", "none"})
    links = () if nofollow else _links(doc, page_url)
    title = _title(doc)
    markdown = ""
    if not noindex:
        extracted = trafilatura.extract(
            doc,
            url=page_url,
            output_format="markdown",
            include_comments=False,
            include_tables=True,
            include_formatting=True,
            config=CONFIG,
        )
        if not extracted:
            extracted = trafilatura.baseline(doc)[1]
        markdown = (extracted or "").strip()
    return ExtractedPage(markdown, title, links, noindex=noindex, nofollow=nofollow)
