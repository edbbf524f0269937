"""Shared state of the catalog mixins and the list helpers they use."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from sync_pipelines.schemas import OrderBy

DEFAULT_LIMIT = 100


class CatalogBase:
    """Holds the engine and session factory that every catalog method uses."""

    _engine: Engine
    _sessions: sessionmaker[Session]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def page(
    query: Select[Any],
    created_at: InstrumentedAttribute[datetime],
    tiebreak: InstrumentedAttribute[Any],
    limit: int,
    offset: int,
    order_by: OrderBy | str,
) -> Select[Any]:
    """Order ``query`` by creation time (id breaks ties) and apply ``limit``/``offset``.

    Args:
        query: The filtered select.
        created_at: The ``created_at`` column.
        tiebreak: A unique column that makes the order total.
        limit: Page size (>= 0).
        offset: Rows to skip (>= 0).
        order_by: ``ASC`` or ``DESC``.

    Returns:
        The paged select.
    """
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must be >= 0")
    columns: Sequence[Any] = (created_at, tiebreak)
    ordered = [c.asc() for c in columns]
    if OrderBy(order_by) is OrderBy.DESC:
        ordered = [c.desc() for c in columns]
    return query.order_by(*ordered).limit(limit).offset(offset)
