"""Generated content for ``LocalWebSite``: boilerplate HTML pages, a docs site, sitemaps, PDF, PNG.

Everything is deterministic (seeded), so tests and benchmarks see the same site every run.
"""

import email.utils
import html
import io
import random
import struct
import zlib
from collections.abc import Iterable, Sequence

WORDS = (
    "chroma collection embedding vector index query document chunk sync source bucket crawl page "
    "model token cluster replica shard latency throughput schema tenant database metric config "
    "deploy worker schedule sensor pipeline storage backup restore upgrade network"
)
_WORDS = WORDS.split(" ")


def html_page(
    title: str,
    body_html: str,
    links: Iterable[tuple[str, str]] = (),
    nav: Iterable[tuple[str, str]] = (),
    head: str = "",
    home: str = "/",
) -> str:
    """Return a full HTML page: header, nav, footer and script boilerplate around ``body_html``.

    Args:
        title: ``<title>`` and ``<h1>`` text (escaped).
        body_html: Main content HTML (inserted as is).
        links: ``(href, text)`` pairs listed inside the article ("See also").
        nav: ``(href, text)`` pairs in the navigation bar.
        head: Extra HTML for ``<head>`` (e.g. a meta robots tag).
        home: Target of the navigation bar's home link.
    """
    esc = html.escape
    nav_items = "".join(f'<li><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in nav)
    link_items = "".join(f'<li><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in links)
    see_also = f"<h2>See also</h2><ul>{link_items}</ul>" if link_items else ""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title>{head}"
        "<script>window.analytics = 'TRACKING-SCRIPT-TEXT';</script></head><body>"
        "<header><div class='brand'>ACME-HEADER-BRAND</div></header>"
        f"<nav class='menu'><ul>{nav_items}<li><a href='{esc(home)}'>NAV-HOME</a></li></ul></nav>"
        f"<main><article><h1>{esc(title)}</h1>{body_html}{see_also}</article></main>"
        "<footer><p>FOOTER-COPYRIGHT ACME 2026. All rights reserved.</p></footer>"
        "</body></html>"
    )


def paragraphs(seed: int, count: int = 4, words: int = 60) -> list[str]:
    """Return ``count`` deterministic pseudo-random paragraphs of about ``words`` words."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        chosen = [rng.choice(_WORDS) for _ in range(rng.randint(words // 2, words))]
        out.append(" ".join(chosen).capitalize() + ".")
    return out


def docs_page_path(prefix: str, index: int) -> str:
    """Return the path of page ``index`` of a generated docs site."""
    return f"{prefix}/p{index}"


def docs_site(n: int, prefix: str = "/docs") -> dict[str, str]:
    """Return ``{path: html}`` of an ``n``-page docs site shaped as a binary tree.

    Page ``i`` links to pages ``2i+1`` and ``2i+2`` (its children) and to its parent; the nav
    bar links to pages 0-2 on every page. Page 0 is the root (depth 0), so the site is
    ``floor(log2(n))`` links deep.
    """
    nav = [(docs_page_path(prefix, i), f"NAV-Section {i}") for i in range(min(n, 3))]
    pages: dict[str, str] = {}
    for i in range(n):
        rng = random.Random(i)
        topic = f"Topic {i}: {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        body = "".join(f"<p>{p}</p>" for p in paragraphs(i, count=3))
        body += f"<h2>Details {i}</h2><p>{paragraphs(i + 100_000, count=1)[0]}</p>"
        body += f"<pre><code>chroma-sync run --page {i}</code></pre>"
        links = [(docs_page_path(prefix, c), f"Child {c}") for c in (2 * i + 1, 2 * i + 2) if c < n]
        if i:
            links.append((docs_page_path(prefix, (i - 1) // 2), "Parent"))
        home = docs_page_path(prefix, 0)
        pages[docs_page_path(prefix, i)] = html_page(topic, body, links, nav, home=home)
    return pages


def calendar_page(prefix: str, stamp: str) -> str | None:
    """Return the calendar page of month ``stamp`` (``YYYY-MM``), linking to the next month."""
    try:
        year, month = (int(x) for x in stamp.split("-"))
    except ValueError:
        return None
    if not 1 <= month <= 12:
        return None
    nxt = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    body = f"<p>Events of {stamp}: none planned.</p>"
    return html_page(f"Calendar {stamp}", body, [(f"{prefix}{nxt}", "Next month")])


def sitemap_xml(urls: Sequence[str], index: bool = False) -> str:
    """Return a sitemap (``<urlset>``) or, with ``index``, a sitemap index of ``urls``."""
    tag, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    entries = "".join(f"<{item}><loc>{html.escape(u)}</loc></{item}>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<{tag} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</{tag}>'
    )


def not_modified(headers: dict[str, str], etag: str | None, last_modified: str | None) -> bool:
    """Tell whether conditional request ``headers`` (lower-cased) match the page (-> 304)."""
    if "if-none-match" in headers:
        tags = [t.strip() for t in headers["if-none-match"].split(",")]
        return etag is not None and (etag in tags or "*" in tags)
    since = headers.get("if-modified-since")
    if since and last_modified:
        try:
            return email.utils.parsedate_to_datetime(
                last_modified
            ) <= email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def pdf_bytes(lines: Sequence[str]) -> bytes:
    """Return a one-page PDF showing ``lines`` (built with reportlab)."""
    from reportlab.pdfgen import canvas  # dev dependency, imported only when needed

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    y = 800
    for line in lines:
        pdf.drawString(72, y, line)
        y -= 16
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """Return a small valid grey PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
