"""Per-page crawl state of web sources: what the last sync of a collection saw on each page.

A re-crawl sends conditional GETs with the stored ``ETag`` / ``Last-Modified`` and, when a page
answers 304, keeps crawling through the links stored for it. The state is keyed by source,
collection and normalised URL; it is advisory: the collection itself stays the truth for what
is indexed (a sync into an emptied collection ignores it).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from sync_pipelines.catalog.base import CatalogBase, utcnow
from sync_pipelines.catalog.tables import Base

URLS_PER_QUERY = 500


class WebPageRow(Base):
    """The state of one crawled page, as the last sync of a collection left it."""

    __tablename__ = "web_pages"

    source_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    collection_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    version_key: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    links: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


@dataclass(frozen=True)
class WebPageState:
    """What the catalog remembers of one page.

    Attributes:
        url: Normalised URL (the chunks' ``document_key``).
        etag: The page's last ``ETag``, if it sent one.
        last_modified: The page's last ``Last-Modified``, if it sent one.
        version_key: sha256 of the extracted text last indexed (``None``: no chunks).
        title: The page title last indexed.
        links: Normalised in-scope links found on the page.
    """

    url: str
    etag: str | None
    last_modified: str | None
    version_key: str | None
    title: str | None
    links: tuple[str, ...]


def _state(row: WebPageRow) -> WebPageState:
    links = row.links.get("links", []) if isinstance(row.links, dict) else []
    return WebPageState(
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        version_key=row.version_key,
        title=row.title,
        links=tuple(str(link) for link in links),
    )


class WebPagesMixin(CatalogBase):
    """Crawl state of web sources."""

    def web_pages(self, source_id: uuid.UUID, collection_name: str) -> dict[str, WebPageState]:
        """Return the stored state of every page last synced into a collection, by URL."""
        query = select(WebPageRow).where(
            WebPageRow.source_id == source_id, WebPageRow.collection_name == collection_name
        )
        with self._sessions() as session:
            return {row.url: _state(row) for row in session.scalars(query)}

    def replace_web_pages(
        self, source_id: uuid.UUID, collection_name: str, pages: Iterable[WebPageState]
    ) -> int:
        """Replace a collection's crawl state with ``pages`` (one transaction).

        Returns:
            How many pages were written.
        """
        now = utcnow()
        rows = [
            WebPageRow(
                source_id=source_id,
                collection_name=collection_name,
                url=page.url,
                etag=page.etag,
                last_modified=page.last_modified,
                version_key=page.version_key,
                title=page.title,
                links={"links": list(page.links)},
                updated_at=now,
            )
            for page in {page.url: page for page in pages}.values()
        ]
        with self._sessions.begin() as session:
            session.execute(
                delete(WebPageRow).where(
                    WebPageRow.source_id == source_id,
                    WebPageRow.collection_name == collection_name,
                )
            )
            session.add_all(rows)
        return len(rows)

    def forget_web_pages(
        self, source_id: uuid.UUID, collection_name: str, urls: Iterable[str] | None = None
    ) -> int:
        """Drop the state of ``urls`` (every page of the collection when ``None``)."""
        base = delete(WebPageRow).where(
            WebPageRow.source_id == source_id, WebPageRow.collection_name == collection_name
        )
        removed = 0
        with self._sessions.begin() as session:
            if urls is None:
                return int(session.execute(base).rowcount)  # type: ignore[attr-defined]
            pending = list(urls)
            for start in range(0, len(pending), URLS_PER_QUERY):
                batch = pending[start : start + URLS_PER_QUERY]
                result = session.execute(base.where(WebPageRow.url.in_(batch)))
                removed += int(result.rowcount)  # type: ignore[attr-defined]
        return removed
