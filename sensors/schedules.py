"""The source schedule sensor: sources with a ``schedule`` re-sync on their cron expression.

Dagster schedules are fixed when the code location loads, while sources come and go through the
HTTP API, so one sensor reads every source's ``schedule`` (see
``sync_pipelines.schemas.schedule``) and, when a tick of its cron expression has passed since the
last evaluation, queues the re-sync as ordinary invocations, visible through the API and
launched by the invocation sensor:

- GitHub: one invocation of the schedule's branch into its ``target_collection_name``;
- web: one re-crawl into its ``target_collection_name``;
- S3 with ``auto_sync: direct``: a reconcile, one invocation per object whose ETag differs from
  the collection's ``version_key`` and one per document the bucket no longer has. A listing
  that fails (or ends early) queues nothing for that source and records one ``failed``
  invocation (object key: the prefix) whose error is ``scheduled reconcile:
  s3://bucket/prefix: <cause>``; the tick logs and reports it too.

A source whose previous invocation is still active is skipped for that tick (409 semantics).
Missed ticks (the daemon was down) collapse into one re-sync. The cursor is the time of the
last evaluation, ``{"v": 1, "at": "<ISO 8601>"}``; an unreadable cursor restarts from now.
"""

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sync_pipelines.catalog import Catalog, InvocationExistsError
from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.core.reconcile_s3 import list_bucket, plan_s3_reconcile
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.schemas import AutoSync, IndexJobMetadata, Source
from sync_pipelines.schemas.schedule import SyncSchedule

SCHEDULE_SENSOR = "source_schedule_sensor"
CURSOR_VERSION = 1
_PAGE = 500
NOTHING_QUEUED = "no re-sync queued: nothing due, or the due sources are still syncing"


def load_cursor(raw: str | None) -> datetime | None:
    """Parse the cursor; anything unreadable or of another version is ``None``."""
    try:
        data: Any = json.loads(raw) if raw else None
        if isinstance(data, dict) and data.get("v") == CURSOR_VERSION:
            at = datetime.fromisoformat(str(data["at"]))
            return at if at.tzinfo is not None else None
    except (ValueError, KeyError, TypeError):
        return None
    return None


def dump_cursor(at: datetime) -> str:
    """Serialise the cursor."""
    return json.dumps({"v": CURSOR_VERSION, "at": at.isoformat()})


def schedule_of(source: Source) -> SyncSchedule | None:
    """Return the source's schedule, if its type has one."""
    config = source.type_config
    schedule = getattr(config, "schedule", None)
    return schedule if isinstance(schedule, SyncSchedule) else None


def _all_sources(store: Catalog) -> list[Source]:
    sources: list[Source] = []
    while batch := store.list_sources(limit=_PAGE, offset=len(sources), order_by="ASC"):
        sources.extend(batch)
        if len(batch) < _PAGE:
            break
    return sources


def _queue(store: Catalog, source: Source, kind: dict[str, Any], collection: str) -> bool:
    metadata = IndexJobMetadata.model_validate(
        {**kind, "database_name": source.database_name, "collection_name": collection}
    )
    try:
        store.create_invocation(source.id, metadata, exclusive=True)
    except InvocationExistsError:
        return False
    return True


def _reconcile_s3(
    store: Catalog,
    source: Source,
    s3: SyncS3Resource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
) -> int:
    """Queue the invocations that bring an S3 source's collection in step with its bucket.

    Raises:
        TransientSourceError: The bucket could not be listed completely (nothing is queued).
    """
    from sync_pipelines.core.git_sync import stored_versions
    from sync_pipelines.core.writer import iter_metadatas

    config = source.s3
    assert config is not None
    client = s3.client_for_source(store, source)
    prefix = config.path_prefix or ""
    try:
        bucket = list_bucket(client, config.bucket_name, prefix)
    except TransientSourceError as exc:
        # Visible through the API like any invocation: the reconcile failed, nothing changed.
        metadata = IndexJobMetadata.model_validate(
            {
                "s3": {"bucket_name": config.bucket_name, "object_key": prefix},
                "database_name": source.database_name,
                "collection_name": config.collection_name,
            }
        )
        store.record_failed_invocation(source.id, metadata, f"scheduled reconcile: {exc}")
        raise
    collection = chroma.get_collection(
        source.database_name,
        config.collection_name,
        embedding_function=embedder.collection_function(source.embedding_model.model),
    )
    stored = stored_versions(iter_metadatas(collection))
    queued = 0
    for key in plan_s3_reconcile(bucket, stored, prefix=config.path_prefix or ""):
        kind = {"s3": {"bucket_name": config.bucket_name, "object_key": key}}
        queued += _queue(store, source, kind, config.collection_name)
    return queued


def run_schedule(
    context: dg.SensorEvaluationContext,
    store: Catalog,
    source: Source,
    schedule: SyncSchedule,
    resources: tuple[SyncS3Resource, ChromaResource, EmbeddingResource],
) -> int:
    """Queue one scheduled re-sync of ``source``; return how many invocations were queued."""
    kind: dict[str, Any]
    if source.github is not None and schedule.target_collection_name:
        ref = {"branch": schedule.branch or "HEAD"}
        kind = {"github": {"git_ref_identifier": ref}}
        return int(_queue(store, source, kind, schedule.target_collection_name))
    if source.web_scrape is not None and schedule.target_collection_name:
        kind = {"web_scrape": {"starting_url": source.web_scrape.starting_url}}
        return int(_queue(store, source, kind, schedule.target_collection_name))
    if source.s3 is not None and source.s3.auto_sync == AutoSync.DIRECT:
        return _reconcile_s3(store, source, *resources)
    context.log.warning(f"source {source.id}: its schedule does not apply to its type/settings")
    return 0


@dg.sensor(
    name=SCHEDULE_SENSOR,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Re-syncs sources that carry a cron `schedule`: GitHub branches, web re-crawls and "
        "S3 reconciles become invocations that the invocation sensor launches."
    ),
)
def source_schedule_sensor(
    context: dg.SensorEvaluationContext,
    catalog: CatalogResource,
    s3: SyncS3Resource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
) -> dg.SensorResult:
    """Queue the re-syncs whose cron tick passed since the last evaluation."""
    now = datetime.now(UTC)
    since = load_cursor(context.cursor)
    if since is None or since > now:
        return dg.SensorResult(skip_reason="schedules start from now", cursor=dump_cursor(now))
    store = catalog.get_catalog()
    queued: list[str] = []
    errors: list[str] = []
    for source in _all_sources(store):
        schedule = schedule_of(source)
        if schedule is None or schedule.latest_tick(since, now) is None:
            continue
        try:
            count = run_schedule(context, store, source, schedule, (s3, chroma, embedder))
        except TransientSourceError as exc:
            errors.append(f"source {source.id}: {exc}")
            context.log.warning(f"source {source.id}: scheduled re-sync not queued: {exc}")
            continue
        except Exception as exc:  # one source's failure must not stop the others
            context.log.warning(f"source {source.id}: scheduled re-sync failed: {exc}")
            continue
        context.log.info(f"source {source.id}: scheduled re-sync queued {count} invocation(s)")
        if count:
            queued.append(str(source.id))
    if not queued:
        reason = "; ".join([NOTHING_QUEUED, *errors])
        return dg.SensorResult(skip_reason=reason, cursor=dump_cursor(now))
    context.log.info(f"queued scheduled re-syncs of {len(queued)} source(s)")
    return dg.SensorResult(cursor=dump_cursor(now))
