"""One source's share of an auto-sync tick: list pages, compare with the state, queue invocations.

A *pass* lists every key under the source's prefix, a few pages per tick (the cursor carries
``StartAfter`` between ticks). Each listed key is compared with the ETag the catalog last
handled for it, so a re-upload under the same key, objects sharing a ``LastModified`` second
and keys sorting before earlier ones are all caught. What changed becomes a pending invocation;
the invocation sensor launches it. When a pass completes, keys it did not see are gone from the
bucket: mirror mode queues an invocation that removes their chunks; either way their state is
dropped.

Modes (``auto_sync``):
- ``direct``: every object except folder markers (keys ending in ``/``) is synced, sidecars
  included, into the source's collection with its sha256-derived ids.
- ``metadata``: only sidecars (``*.meta.json``) trigger. A valid sidecar queues the object it
  names with its ``id`` as ``custom_id``, its metadata and target collection; an invalid one is
  recorded as a failed invocation ``s3://bucket/<sidecar key>: <reason>`` and not retried until
  it changes. In mirror mode a vanished sidecar re-runs the invocation it asked for, which
  removes the chunks once the object it names is gone too.

An invocation that clashes with a pending/processing one for the same key is not recorded as
handled: the next pass retries it.
"""

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.tables import JsonDict
from sync_pipelines.core.s3_cursor import SourceCursor
from sync_pipelines.core.sidecars import (
    MAX_SIDECAR_BYTES,
    SidecarError,
    is_sidecar_key,
    parse_sidecar,
)
from sync_pipelines.s3_auto_sync.listing import PAGE_SIZE, ListedObject, list_page, read_sidecar
from sync_pipelines.schemas import AutoSync, IndexJobMetadata, Job, S3SourceConfig, Source


class Log(Protocol):
    """The logger the scan reports to (``context.log`` in the sensor)."""

    def info(self, msg: str) -> Any:
        """Log progress."""

    def warning(self, msg: str) -> Any:
        """Log a problem."""


@dataclass
class ScanReport:
    """What one source's share of a tick did.

    Attributes:
        cursor: Where the next tick resumes.
        pages: ListObjectsV2 pages read.
        created: Pending invocations queued (syncs and mirror removals).
        failed: Failed invocations recorded for invalid sidecars.
        waiting: Changes left for a later pass (an invocation for the key was active).
        removed: Keys found gone at the end of the pass (mirror: invocations queued).
        pass_completed: Whether the pass reached the end of the listing.
        error: The S3 error that stopped the scan, if any.
    """

    cursor: SourceCursor
    pages: int = 0
    created: list[Job] = field(default_factory=list)
    failed: list[Job] = field(default_factory=list)
    waiting: int = 0
    removed: int = 0
    pass_completed: bool = False
    error: str | None = None


def _s3(source: Source) -> S3SourceConfig:
    if source.s3 is None:
        raise ValueError(f"source {source.id} is not an S3 source")
    return source.s3


def invocation_metadata(
    source: Source,
    object_key: str,
    *,
    collection_name: str | None = None,
    custom_id: str | None = None,
    metadata: JsonDict | None = None,
) -> IndexJobMetadata:
    """The metadata of an S3 invocation of ``source``, as create-invocation builds it.

    Args:
        source: The S3 source.
        object_key: The object to sync.
        collection_name: Target collection (default: the source's ``collection_name``).
        custom_id: Custom chunk-id prefix.
        metadata: Extra chunk metadata.

    Returns:
        Kind, database and target collection.
    """
    config = _s3(source)
    details = {
        "bucket_name": config.bucket_name,
        "object_key": object_key,
        "custom_id": custom_id,
        "additional_metadata": metadata,
    }
    return IndexJobMetadata.model_validate(
        {
            "s3": details,
            "database_name": source.database_name,
            "collection_name": collection_name or config.collection_name,
        }
    )


class _Scan:
    """State of one source's scan within a tick."""

    def __init__(self, store: Catalog, client: Any, source: Source, log: Log, report: ScanReport):
        self.store = store
        self.client = client
        self.source = source
        self.config = _s3(source)
        self.log = log
        self.report = report
        self.sidecars = self.config.auto_sync == AutoSync.METADATA

    def queue(self, requests: dict[str, IndexJobMetadata]) -> set[str]:
        """Create pending invocations in one transaction.

        Args:
            requests: State key (the listed key) to the invocation it asks for.

        Returns:
            The state keys whose invocation was created; the others clashed with an active
            invocation for the same object and are left for a later pass.
        """
        if not requests:
            return set()
        created, refused = self.store.create_s3_invocations(self.source.id, list(requests.values()))
        self.report.created += created
        self.report.waiting += len(refused)
        refused_ids = {id(metadata) for metadata in refused}
        return {key for key, metadata in requests.items() if id(metadata) not in refused_ids}

    def wanted(self, key: str) -> bool:
        if key.endswith("/") or "\x00" in key:
            return False
        return is_sidecar_key(key) if self.sidecars else True

    def page(self, objects: list[ListedObject], pass_no: int) -> None:
        """Queue what changed among a page's objects and record what was seen."""
        candidates = [o for o in objects if self.wanted(o.key)]
        known = self.store.known_etags(self.source.id, [o.key for o in candidates])
        seen = [o.key for o in candidates if known.get(o.key) == o.etag]
        changed = [o for o in candidates if known.get(o.key) != o.etag]
        handled: dict[str, str] = {}
        targets: dict[str, JsonDict | None] = {}
        requests: dict[str, IndexJobMetadata] = {}
        for obj in changed:
            if not self.sidecars:
                handled[obj.key] = obj.etag
                requests[obj.key] = invocation_metadata(self.source, obj.key)
                continue
            outcome = self.sidecar(obj)
            if outcome is None:
                seen.append(obj.key)
                continue
            handled[obj.key], targets[obj.key] = outcome
            if targets[obj.key] is not None:
                requests[obj.key] = invocation_metadata(self.source, **(targets[obj.key] or {}))
        queued = self.queue(requests)
        for key in set(requests) - queued:
            del handled[key]
            seen.append(key)
        self.store.mark_seen(self.source.id, seen, pass_no)
        self.store.record_handled(self.source.id, handled, pass_no, targets)

    def sidecar(self, obj: ListedObject) -> tuple[str, JsonDict | None] | None:
        """Read and check a new or changed sidecar.

        Returns:
            The ETag read and the invocation target the sidecar asks for (``None`` when it is
            invalid: a failed invocation is then recorded), or ``None`` when it could not be
            read (retried on a later pass).
        """
        bucket = self.config.bucket_name
        uri = f"s3://{bucket}/{obj.key}"
        etag = obj.etag
        try:
            if obj.size > MAX_SIDECAR_BYTES:
                raise SidecarError(
                    f"sidecar is {obj.size} bytes, over the {MAX_SIDECAR_BYTES}-byte cap"
                )
            read = read_sidecar(self.client, bucket, obj.key, MAX_SIDECAR_BYTES)
            if read is None:
                return None
            data, etag = read
            sidecar = parse_sidecar(data, path_prefix=self.config.path_prefix)
        except (ClientError, BotoCoreError) as exc:
            self.log.warning(f"S3 auto-sync: cannot read {uri}, retrying later: {exc}")
            return None
        except SidecarError as exc:
            error = f"{uri}: {exc}"
            self.log.warning(f"S3 auto-sync: invalid sidecar {error}")
            metadata = invocation_metadata(self.source, obj.key)
            self.report.failed.append(
                self.store.record_failed_invocation(self.source.id, metadata, error)
            )
            return etag, None
        target: JsonDict = {
            "object_key": sidecar.object_key,
            "collection_name": sidecar.target_collection_name,
            "custom_id": sidecar.custom_id,
            "metadata": sidecar.metadata,
        }
        return etag, target

    def finish_pass(self, pass_no: int, limit: int) -> None:
        """Drop the state of keys the pass did not see; in mirror mode, queue their removal."""
        stale = self.store.stale_objects(self.source.id, before_pass=pass_no, limit=limit)
        if not stale:
            return
        gone = set(stale)
        if self.config.mirror_deletes:
            # A vanished plain object is synced again (its chunks go); a vanished sidecar
            # re-runs what it asked for; an invalid sidecar had asked for nothing.
            requests = {
                key: invocation_metadata(self.source, **(target or {"object_key": key}))
                for key, target in stale.items()
                if not (self.sidecars and target is None)
            }
            gone -= set(requests) - self.queue(requests)
        self.store.forget(self.source.id, gone)
        self.report.removed += len(gone)


def scan_source(
    store: Catalog,
    client: Any,
    source: Source,
    cursor: SourceCursor | None,
    *,
    max_pages: int,
    deadline: float | None = None,
    log: Log,
    page_size: int = PAGE_SIZE,
) -> ScanReport:
    """Advance the source's listing pass by up to ``max_pages`` pages.

    Args:
        store: The catalog (state and invocations).
        client: A boto3 client for the source's bucket.
        source: An S3 source with ``auto_sync`` ``direct`` or ``metadata``.
        cursor: Where the previous tick stopped; ``None`` starts a fresh pass, numbered after
            the highest pass in the stored state.
        max_pages: Pages to read at most.
        deadline: ``time.monotonic()`` value after which no further page is started (the
            first page is always read).
        log: Where problems are reported.
        page_size: Keys per ListObjectsV2 page.

    Returns:
        What was done and where the next tick resumes. An S3 error stops the scan, keeps the
        progress made so far and is reported in ``error``, never raised.
    """
    config = _s3(source)
    if cursor is None:
        cursor = SourceCursor(after=None, pass_no=store.max_seen_pass(source.id) + 1)
    report = ScanReport(cursor=cursor)
    scan = _Scan(store, client, source, log, report)
    after = cursor.after
    while report.pages < max_pages:
        if report.pages and deadline is not None and time.monotonic() >= deadline:
            break
        try:
            page = list_page(client, config.bucket_name, config.path_prefix, after, page_size)
        except (ClientError, BotoCoreError) as exc:
            report.error = str(exc)
            log.warning(f"S3 auto-sync: source {source.id} (bucket {config.bucket_name}): {exc}")
            break
        report.pages += 1
        scan.page(page.objects, cursor.pass_no)
        if not page.truncated:
            scan.finish_pass(cursor.pass_no, limit=max_pages * page_size)
            report.cursor = SourceCursor(after=None, pass_no=cursor.pass_no + 1)
            report.pass_completed = True
            return report
        after = page.last_key
        report.cursor = SourceCursor(after=after, pass_no=cursor.pass_no)
    return report
