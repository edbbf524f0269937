"""The ``limit``/``offset``/``order_by`` query parameters shared by the list operations."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from sync_pipelines.schemas import OrderBy

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
"""Larger ``limit`` values are served as this many rows (the spec sets no maximum)."""
MAX_OFFSET = 2**62


@dataclass(frozen=True)
class Page:
    """One page request: at most ``limit`` rows after ``offset``, ordered by ``created_at``."""

    limit: int
    offset: int
    order_by: OrderBy


async def page_params(
    limit: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    order_by: OrderBy = OrderBy.DESC,
) -> Page:
    """Read the paging parameters (``limit`` is clamped to :data:`MAX_LIMIT`)."""
    return Page(limit=min(limit, MAX_LIMIT), offset=offset, order_by=order_by)


PageDep = Annotated[Page, Depends(page_params)]
