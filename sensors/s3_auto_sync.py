"""The S3 auto-sync sensor: bucket changes of ``auto_sync`` sources become pending invocations.

It starts no run itself. Each tick advances every S3 source whose ``auto_sync`` is ``direct`` or
``metadata`` by up to ``s3_sensor_max_pages_per_tick`` ListObjectsV2 pages and queues a pending
invocation for each new or changed object (see ``sync_pipelines.s3_auto_sync.scan`` for the
rules); the invocation sensor launches them, so every sensor-started sync is an invocation the
API shows. The first pass of a new source syncs the objects already in the bucket. Sources with
``auto_sync`` ``none`` (or unset) are ignored; a deleted source leaves the cursor; an S3 error of
one source (bad credentials, missing bucket) is logged and the other sources go on.
"""

import time

import dagster as dg
from sqlalchemy.exc import IntegrityError

from sync_pipelines.catalog import Catalog, SourceNotFoundError
from sync_pipelines.core.s3_cursor import SourceCursor, dump_cursor, parse_cursor
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.s3_auto_sync.listing import client_for_source
from sync_pipelines.s3_auto_sync.scan import ScanReport, scan_source
from sync_pipelines.schemas import AutoSync, Source
from sync_pipelines.settings import get_settings

S3_AUTO_SYNC_SENSOR = "s3_auto_sync_sensor"
TICK_BUDGET_S = 40.0
"""Seconds of listing per tick, shared by the sources (under Dagster's 60 s sensor timeout);
a source always reads at least one page."""
_PAGE = 500


def auto_sync_sources(store: Catalog) -> list[Source]:
    """Every S3 source of every database whose ``auto_sync`` is ``direct`` or ``metadata``."""
    found: list[Source] = []
    offset = 0
    while True:
        page = store.list_sources(source_type="s3", limit=_PAGE, offset=offset, order_by="ASC")
        found += [
            s
            for s in page
            if s.s3 is not None and s.s3.auto_sync in (AutoSync.DIRECT, AutoSync.METADATA)
        ]
        if len(page) < _PAGE:
            return found
        offset += _PAGE


def _rotated(sources: list[Source]) -> list[Source]:
    """The sources, starting at a place that moves every second (no source always comes last)."""
    if not sources:
        return sources
    start = int(time.time()) % len(sources)
    return sources[start:] + sources[:start]


def _summary(source: Source, report: ScanReport) -> str:
    parts = [f"{len(report.created)} queued"]
    if report.failed:
        parts.append(f"{len(report.failed)} invalid sidecars")
    if report.waiting:
        parts.append(f"{report.waiting} waiting for an active invocation")
    if report.removed:
        parts.append(f"{report.removed} gone")
    where = "pass complete" if report.pass_completed else f"pass {report.cursor.pass_no} goes on"
    return f"source {source.id}: {', '.join(parts)} ({report.pages} pages, {where})"


@dg.sensor(
    name=S3_AUTO_SYNC_SENSOR,
    minimum_interval_seconds=get_settings().s3_sensor_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Lists the buckets of S3 sources with auto_sync (a few pages per tick) and queues a "
        "pending invocation for each new or changed object; the invocation sensor runs them."
    ),
)
def s3_auto_sync_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource, s3: SyncS3Resource
) -> dg.SensorResult | dg.SkipReason:
    """Queue invocations for what changed in the auto-sync sources' buckets."""
    store = catalog.get_catalog()
    max_pages = get_settings().s3_sensor_max_pages_per_tick
    old = parse_cursor(context.cursor)
    sources = auto_sync_sources(store)
    share = TICK_BUDGET_S / max(1, len(sources))
    tick_deadline = time.monotonic() + TICK_BUDGET_S
    cursors: dict[str, SourceCursor] = {}
    acted: list[str] = []
    problems: list[str] = []
    for source in _rotated(sources):
        key = str(source.id)
        if time.monotonic() >= tick_deadline:  # out of time: the next tick starts elsewhere
            if key in old:
                cursors[key] = old[key]
            continue
        try:
            client = client_for_source(s3, store, source)
            report = scan_source(
                store,
                client,
                source,
                old.get(key),
                max_pages=max_pages,
                deadline=min(time.monotonic() + share, tick_deadline),
                log=context.log,
            )
        except (SourceNotFoundError, IntegrityError):
            context.log.info(f"S3 auto-sync: source {key} was deleted during the tick")
            continue
        except ValueError as exc:  # e.g. an endpoint_url botocore refuses
            problems.append(f"source {key}: {exc}")
            context.log.warning(f"S3 auto-sync: source {key} skipped: {exc}")
            if key in old:
                cursors[key] = old[key]
            continue
        cursors[key] = report.cursor
        if report.error:
            problems.append(f"source {key}: {report.error}")
        if report.created or report.failed or report.removed:
            acted.append(_summary(source, report))
    for line in acted:
        context.log.info(f"S3 auto-sync: {line}")
    cursor = dump_cursor(cursors)
    if acted:
        return dg.SensorResult(cursor=cursor)
    reason = "no new or changed objects" + (f"; {'; '.join(problems)}" if problems else "")
    if cursors != old:
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SkipReason(reason)
