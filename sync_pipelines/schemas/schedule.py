"""The ``schedule`` extension field: re-sync a source on a cron schedule.

Not in the hosted spec (clients that do not send it are unaffected). A GitHub source re-syncs a
branch into ``target_collection_name``; a web source re-crawls into it; an S3 source with
``auto_sync: direct`` reconciles its bucket with its ``collection_name`` (objects whose ETag
differs from the collection's are synced, chunks of vanished objects removed).
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, field_validator

from sync_pipelines.schemas.common import CollectionName, SpecModel, omitted_if_none


class SyncSchedule(SpecModel):
    """When to re-sync a source, and (GitHub, web) into which collection.

    Attributes:
        cron: Five-field cron expression (minute hour day month weekday), e.g. ``0 3 * * *``.
        timezone: IANA time zone the expression is read in (default ``UTC``).
        target_collection_name: The collection a GitHub or web source re-syncs into
            (required for them; S3 sources use their own ``collection_name``).
        branch: GitHub only: the branch to re-sync (default: the repository's default branch).
    """

    cron: str = Field(min_length=1, max_length=120)
    timezone: str = "UTC"
    target_collection_name: CollectionName | None = omitted_if_none()
    branch: str | None = Field(default=None, min_length=1, exclude_if=lambda v: v is None)

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("must be a five-field cron expression, e.g. '0 3 * * *'")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def latest_tick(self, start: datetime, end: datetime) -> datetime | None:
        """Return the schedule's latest tick in ``(start, end]``, if any.

        Missed ticks collapse into one re-sync: running the same sync twice in a row adds
        nothing.

        Args:
            start: Exclusive lower bound (timezone-aware).
            end: Inclusive upper bound (timezone-aware).

        Returns:
            The latest tick in the window, or ``None``.
        """
        zone = ZoneInfo(self.timezone)
        # Ticks fall on whole minutes, so starting just after ``end`` makes it inclusive.
        tick: datetime = croniter(
            self.cron, (end + timedelta(seconds=1)).astimezone(zone)
        ).get_prev(datetime)
        return tick if tick > start else None
