"""EPUB ebooks (EPUB 2 and 3) read with :mod:`zipfile`, their chapters turned into markdown.

``META-INF/container.xml`` names the package document (OPF), whose spine lists the chapters
in reading order; each XHTML chapter becomes markdown like any HTML page. No EPUB library is
used (the common one, ebooklib, is AGPL).
"""

import posixpath
import re
import zipfile
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from bs4 import BeautifulSoup, Tag

from sync_pipelines.core.documents.builder import MarkdownBuilder
from sync_pipelines.core.documents.errors import ParseError, open_zip
from sync_pipelines.core.documents.word import html_to_markdown
from sync_pipelines.core.types import ParsedDocument

LABEL = "EPUB ebook"
_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
_XMLENC = "{http://www.w3.org/2001/04/xmlenc#}"
# Font obfuscation (IDPF and Adobe) hides embedded fonts, not the text: it is no DRM.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_CHAPTER_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_DROPPED = (
    "img", "svg", "image", "picture", "video", "audio", "object", "iframe", "math", "script",
    "style", "template", "noscript",
)  # fmt: skip
_BLOCKS = ("p", "div", "span", "section", "header")

TocEntry = tuple[str, str, int]  # fragment ("" for the chapter itself), title, depth from 1


def parse_epub(key: str, data: bytes) -> ParsedDocument:
    """Parse an EPUB ebook into markdown, its chapters in spine (reading) order.

    Chapters keep their ``<h1>``-``<h6>`` headings. A chapter without any (LibreOffice
    writes its headings as styled paragraphs) gets those of the table of contents (the
    EPUB 3 navigation document or the EPUB 2 NCX): the paragraph a contents entry points to,
    or whose text is the entry's title, becomes a heading of the entry's depth. Images are
    skipped (no OCR), as are audio, video, MathML and the navigation document; links keep
    their text only.

    Args:
        key: The ebook's key, for errors.
        data: The ``.epub`` bytes.

    Returns:
        The ebook as markdown, without locations.

    Raises:
        ParseError: The ebook is DRM-protected, is no zip archive, unpacks to over 200 MB,
            or lacks its container or package document.
    """
    with open_zip(key, data, LABEL) as archive:
        names = set(archive.namelist())
        _check_drm(key, archive, names)
        opf_path = _package_path(key, archive, names)
        spine, nav_path, ncx_path = _spine(key, _xml(key, archive, opf_path), opf_path)
        toc = _toc(archive, names, nav_path, ncx_path)
        doc = MarkdownBuilder()
        for path in spine:
            if path in names and path != nav_path:
                doc.block(_chapter(archive.read(path), toc.get(path, [])))
    return doc.build("markdown")


def _xml(key: str, archive: zipfile.ZipFile, path: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(archive.read(path))
    except ElementTree.ParseError as exc:
        raise ParseError(key, f"corrupt {LABEL} ({path}: {exc})") from None


def _local(tag: str) -> str:
    """An element's name without its namespace (some ebooks leave the namespace out)."""
    return tag.rsplit("}", 1)[-1]


def _check_drm(key: str, archive: zipfile.ZipFile, names: set[str]) -> None:
    """Refuse an ebook whose ``encryption.xml`` encrypts anything by other than font obfuscation."""
    if _ENCRYPTION not in names:
        return
    for data in _xml(key, archive, _ENCRYPTION).iter(f"{_XMLENC}EncryptedData"):
        method = data.find(f"{_XMLENC}EncryptionMethod")
        algorithm = method.get("Algorithm", "") if method is not None else ""
        if algorithm not in _FONT_OBFUSCATION:
            raise ParseError(key, f"encrypted {LABEL} (DRM)")


def _package_path(key: str, archive: zipfile.ZipFile, names: set[str]) -> str:
    """The path of the package document (OPF) that ``container.xml`` names."""
    if _CONTAINER not in names:
        raise ParseError(key, f"corrupt {LABEL} (no {_CONTAINER})")
    for element in _xml(key, archive, _CONTAINER).iter():
        if _local(element.tag) == "rootfile" and element.get("full-path"):
            path = unquote(element.get("full-path", "")).lstrip("/")
            if path in names:
                return path
            raise ParseError(key, f"corrupt {LABEL} (package document {path} is missing)")
    raise ParseError(key, f"corrupt {LABEL} ({_CONTAINER} names no package document)")


def _resolve(base: str, href: str) -> str:
    """A link's archive path: ``href`` (URL-encoded, fragment dropped) relative to ``base``."""
    path = unquote(urlsplit(href).path)
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), path)).lstrip("/")


def _spine(
    key: str, package: ElementTree.Element, opf_path: str
) -> tuple[list[str], str | None, str | None]:
    """The chapters' paths in reading order, and the navigation document's and NCX's paths."""
    items: dict[str, tuple[str, str, str]] = {}  # id -> path, media type, properties
    spine: ElementTree.Element | None = None
    for element in package.iter():
        name = _local(element.tag)
        if name == "item" and element.get("id") and element.get("href"):
            path = _resolve(opf_path, element.get("href", ""))
            items[element.get("id", "")] = (
                path,
                element.get("media-type", ""),
                element.get("properties", ""),
            )
        elif name == "spine":
            spine = element
    if spine is None:
        raise ParseError(key, f"corrupt {LABEL} (the package document has no spine)")
    chapters = []
    for itemref in spine:
        item = items.get(itemref.get("idref", "")) if _local(itemref.tag) == "itemref" else None
        if item is not None and item[1] in _CHAPTER_TYPES:
            chapters.append(item[0])
    nav = next((path for path, _t, props in items.values() if "nav" in props.split()), None)
    ncx = items.get(spine.get("toc", ""), ("", "", ""))[0] or next(
        (path for path, media, _p in items.values() if media == "application/x-dtbncx+xml"), None
    )
    return chapters, nav, ncx


def _toc(
    archive: zipfile.ZipFile, names: set[str], nav: str | None, ncx: str | None
) -> dict[str, list[TocEntry]]:
    """Table of contents entries by chapter path, from the navigation document or the NCX."""
    toc: dict[str, list[TocEntry]] = {}

    def add(base: str, href: str, title: str, depth: int) -> None:
        title = " ".join(title.split())
        if href and title:
            entry = (urlsplit(href).fragment, title, depth)
            toc.setdefault(_resolve(base, href), []).append(entry)

    if nav and nav in names:
        soup = BeautifulSoup(archive.read(nav), "html.parser")
        for container in soup.find_all("nav"):
            if "toc" in str(container.get("epub:type", "")).split():
                for link in container.find_all("a", href=True):
                    depth = len(link.find_parents("ol")) or 1
                    add(nav, str(link["href"]), link.get_text(" "), depth)
    elif ncx and ncx in names:
        try:
            root = ElementTree.fromstring(archive.read(ncx))
        except ElementTree.ParseError:
            return toc  # the contents only supply headings: the text is still read

        def walk(point: ElementTree.Element, depth: int) -> None:
            label = next((e for e in point.iter() if _local(e.tag) == "text"), None)
            content = next((e for e in point if _local(e.tag) == "content"), None)
            if label is not None and content is not None:
                add(ncx, content.get("src", ""), label.text or "", depth)
            for child in point:
                if _local(child.tag) == "navPoint":
                    walk(child, depth + 1)

        for nav_map in (e for e in root.iter() if _local(e.tag) == "navMap"):
            for point in nav_map:
                if _local(point.tag) == "navPoint":
                    walk(point, 1)
    return toc


def _chapter(data: bytes, toc: list[TocEntry]) -> str:
    """One XHTML chapter as markdown."""
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    for link in soup.find_all("a", href=True):
        link.unwrap()  # links point into the ebook: keep their text (anchors stay as targets)
    body = soup.body or soup
    if toc and body.find(_HEADINGS) is None:
        _add_headings(body, toc)
    return html_to_markdown(str(body))


def _add_headings(body: Tag, toc: list[TocEntry]) -> None:
    """Turn the elements the contents entries of a chapter point to into headings."""
    for fragment, title, depth in toc:
        level = f"h{min(depth, 6)}"
        target = body.find(id=fragment) if fragment else None
        while (
            isinstance(target, Tag)
            and target.name in ("a", "span")
            and isinstance(target.parent, Tag)
            and target.parent.name in ("p", "div")
        ):
            target = target.parent  # an anchor inside the heading paragraph
        if target is None:
            wanted = _squash(title)
            target = next(
                (tag for tag in body.find_all(_BLOCKS) if _squash(tag.get_text()) == wanted), None
            )
        if isinstance(target, Tag):
            target.name = level
            target.attrs = {}
        elif not fragment:  # the chapter's title is not in its text: add it
            heading = BeautifulSoup("", "html.parser").new_tag(level)
            heading.string = title
            body.insert(0, heading)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()
