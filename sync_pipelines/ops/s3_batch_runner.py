"""The work of one batch run: many S3 objects of one source, each with its own invocation.

A small thread pool fetches and chunks objects ahead (boto3 clients are thread-safe, the
download waits on the network) while the op's thread embeds and writes the documents in groups:
one embedding call and shared Chroma writes per group of documents of one collection. Each
invocation ends on its own: one object's failure fails only its invocation, with the error text
the single-object job gives (``s3://bucket/key: reason``). Transient S3 and Chroma errors are
retried a few times first. Outcomes go to the catalog one transaction per group.

Objects over ``stream_object_bytes`` (known from their HEAD) are set aside and synced one at a
time after every smaller object of the batch has finished, through the bounded-memory path of
:mod:`sync_pipelines.ops.s3_big` within their time and chunk budget; a big object therefore
never holds up the small ones, and over budget it fails alone.
"""

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from sync_pipelines.catalog import Catalog, InvocationRecord
from sync_pipelines.catalog.base import utcnow
from sync_pipelines.catalog.invocation_batches import InvocationOutcome
from sync_pipelines.core.batch_writer import DocumentWrite, sync_documents
from sync_pipelines.core.staged_writer import Budget, OverBudgetError
from sync_pipelines.core.writer import WriteCounts
from sync_pipelines.ops.documents import (
    ChunkedDocument,
    FetchedDocument,
    SyncTarget,
    chunk_fetched,
    open_target,
)
from sync_pipelines.ops.s3_batch_items import BatchItem, BatchReport, Opened, write_of
from sync_pipelines.ops.s3_reader import ObjectHead, S3SourceReader
from sync_pipelines.ops.transient import describe, is_transient, is_transient_write, retrying
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource

FETCH_WORKERS = 4
PREFETCH = 48
GROUP_DOCUMENTS = 32
GROUP_CHUNKS = 512


class S3BatchRunner:
    """Syncs the claimed invocations of one S3 source and records each one's outcome."""

    def __init__(
        self,
        reader: S3SourceReader,
        store: Catalog,
        chroma: ChromaResource,
        embedder: EmbeddingResource,
        *,
        run_id: str,
        max_object_bytes: int,
        log: Callable[[str], None],
        stream_object_bytes: int | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.reader = reader
        self.stream_object_bytes = stream_object_bytes or max_object_bytes
        self.budget = budget or Budget()
        self.store = store
        self.chroma = chroma
        self.embedder = embedder
        self.run_id = run_id
        self.max_object_bytes = max_object_bytes
        self.log = log
        self.report = BatchReport()
        self._targets: dict[tuple[str, str, str | None], Opened] = {}
        self._outcomes: list[InvocationOutcome] = []
        self._warming: Future[None] | None = None

    def run(self, records: list[InvocationRecord]) -> BatchReport:
        """Sync every record (in order) and finish its invocation."""
        pending = iter(records)
        futures: deque[Future[BatchItem]] = deque()
        group: list[BatchItem] = []
        big: list[BatchItem] = []
        with ThreadPoolExecutor(FETCH_WORKERS, thread_name_prefix="s3-batch") as pool:

            def top_up() -> None:
                while len(futures) < PREFETCH and (record := next(pending, None)) is not None:
                    futures.append(pool.submit(self._prepare, record))

            if records:
                # Loading the embedding model takes seconds: overlap it with the first fetches.
                first = records[0]
                self._warming = pool.submit(self._warm, first.job.metadata.collection_name)
            top_up()
            while futures:
                item = futures.popleft().result()
                top_up()
                if item.big:
                    big.append(item)
                    continue
                if item.chunked is None:
                    self._finish(item, item.error or f"{item.uri}: failed")
                    continue
                if group and not self._fits(group, item.chunked):
                    self._write(group)
                    group = []
                group.append(item)
                if len(group) >= GROUP_DOCUMENTS:
                    self._write(group)
                    group = []
            if group:
                self._write(group)
        self._flush()
        for item in big:
            self._write_big(item)
        return self.report

    def _warm(self, target_collection: str) -> None:
        """Load the embedding function and open the collection (errors surface later)."""
        target = self.reader.target(target_collection)
        try:
            open_target(target, "", self.chroma, self.embedder)
        except Exception:
            return

    def _prepare(self, record: InvocationRecord) -> BatchItem:
        """Fetch and chunk one object (runs in a pool thread: no Dagster logging here)."""
        key = record.object_key or ""
        item = BatchItem(record, self.reader.uri(key), utcnow())
        if record.source_type != "s3" or record.job.source_id != self.reader.source.id:
            item.error = f"{item.uri}: the invocation is not one of source {self.reader.source.id}"
            return item
        target = record.job.metadata.collection_name

        def fetch() -> FetchedDocument | ObjectHead:
            head = self.reader.head(key, max_object_bytes=self.max_object_bytes)
            if head is not None and head.size > self.stream_object_bytes:
                return head
            return self.reader.fetch_head(
                key,
                head,
                custom_id=record.custom_id,
                metadata=record.extra_metadata,
                target_collection=target,
            )

        try:
            fetched = retrying(fetch, transient=is_transient)
            if isinstance(fetched, ObjectHead):
                item.big = True
                return item
            item.chunked = chunk_fetched(fetched)
            self.budget.check(len(item.chunked.records))
        except OverBudgetError as exc:
            item.error, item.chunked = f"{item.uri}: {exc.reason}", None
        except Exception as exc:
            item.error = describe(item.uri, exc)
        return item

    def _write_big(self, item: BatchItem) -> None:
        """Sync one object set aside as big, on its own, and finish its invocation."""
        # Parsers and grammars load on first use, not when Dagster imports the ops.
        from sync_pipelines.ops.s3_big import BigObject, sync_big_object

        record = item.record
        target = self.reader.target(record.job.metadata.collection_name)
        item.started_at = utcnow()
        opened = self._open(target, item.uri)
        error = None if opened.reason is None else f"{item.uri}: {opened.reason}"
        written: int | None = None
        if error is None:
            key, extra = record.object_key or "", dict(record.extra_metadata or {})
            try:
                counts = sync_big_object(
                    self.reader,
                    BigObject(key, target, record.custom_id, extra),
                    collection=opened.collection,
                    embed=opened.embed,
                    max_batch_size=opened.max_batch,
                    max_object_bytes=self.max_object_bytes,
                    budget=self.budget,
                )
                problem = None if opened.ingest_marked else self._mark_ingested(opened)
                if problem is not None:
                    raise problem
                self._count(counts)
                written = counts.written
            except Exception as exc:
                error = describe(item.uri, exc)
        self._finish(item, error, written)
        self._flush()

    @staticmethod
    def _target_key(target: SyncTarget) -> tuple[str, str, str | None]:
        return (target.database_name, target.collection_name, target.embedding_model)

    def _fits(self, group: list[BatchItem], chunked: ChunkedDocument) -> bool:
        first = group[0].chunked
        assert first is not None
        if self._target_key(first.target) != self._target_key(chunked.target):
            return False
        if write_of(chunked).prefix in {write_of(g.chunked).prefix for g in group}:
            return False
        chunks = sum(len(g.chunked.records) for g in group if g.chunked is not None)
        return chunks + len(chunked.records) <= GROUP_CHUNKS

    def _open(self, target: SyncTarget, uri: str) -> Opened:
        if self._warming is not None:
            self._warming.result()  # never two threads creating one collection
            self._warming = None
        key = self._target_key(target)
        opened = self._targets.get(key)
        if opened is None:
            try:
                collection, embed, max_batch = retrying(
                    lambda: open_target(target, uri, self.chroma, self.embedder),
                    transient=is_transient_write,
                )
                opened = Opened(collection, embed, max_batch)
            except Exception as exc:
                reason = describe(uri, exc).removeprefix(f"{uri}: ")
                opened = Opened(reason=reason)
            self._targets[key] = opened
        return opened

    def _write(self, group: list[BatchItem]) -> None:
        first = group[0].chunked
        assert first is not None
        opened = self._open(first.target, group[0].uri)
        if opened.reason is not None:
            for item in group:
                self._finish(item, f"{item.uri}: {opened.reason}")
            self._flush()
            return
        writes = [write_of(item.chunked) for item in group]
        results: list[WriteCounts | BaseException]
        try:
            results = list(
                retrying(lambda: self._sync(opened, writes), transient=is_transient_write)
            )
        except Exception:
            results = [self._sync_one(opened, write) for write in writes]
        ended: list[tuple[BatchItem, str | None, WriteCounts | None]] = []
        for item, result in zip(group, results, strict=True):
            assert item.chunked is not None
            if isinstance(result, BaseException):
                ended.append((item, describe(item.uri, result), None))
            elif item.chunked.missing and result.deleted == 0:
                ended.append((item, f"{item.uri}: object not found", None))
            else:
                ended.append((item, None, result))
        if not opened.ingest_marked and any(error is None for _, error, _ in ended):
            problem = self._mark_ingested(opened)
            if problem is not None:
                ended = [(i, e or describe(i.uri, problem), c) for i, e, c in ended]
        for item, error, counts in ended:
            if error is None and counts is not None:
                self._count(counts)
            self._finish(item, error, counts.written if counts is not None else None)
        self.log(
            f"{first.target.database_name}/{first.target.collection_name}: wrote {len(group)} "
            f"documents ({sum(len(w.records) for w in writes)} chunks)"
        )
        self._flush()

    def _sync(self, opened: Opened, writes: list[DocumentWrite]) -> list[WriteCounts]:
        return sync_documents(
            opened.collection, writes, embed=opened.embed, max_batch_size=opened.max_batch
        )

    def _sync_one(self, opened: Opened, write: DocumentWrite) -> WriteCounts | BaseException:
        try:
            return self._sync(opened, [write])[0]
        except Exception as exc:
            return exc

    def _mark_ingested(self, opened: Opened) -> Exception | None:
        """Set ``finished_ingest`` once per collection and batch; return the error, if any."""
        collection = opened.collection
        try:
            retrying(
                lambda: collection.modify(
                    metadata={**(collection.metadata or {}), "finished_ingest": True}
                ),
                transient=is_transient_write,
            )
        except Exception as exc:
            return exc
        opened.ingest_marked = True
        return None

    def _count(self, counts: WriteCounts) -> None:
        self.report.chunks_written += counts.written
        self.report.chunks_skipped += counts.unchanged
        self.report.chunks_deleted += counts.deleted
        self.report.embed_seconds += counts.embed_seconds

    def _finish(self, item: BatchItem, error: str | None, written: int | None = None) -> None:
        if error is None:
            self.report.ok += 1
        else:
            self.report.failed += 1
            self.report.errors.append(error)
        self._outcomes.append(
            InvocationOutcome(item.record.job.id, item.started_at, utcnow(), error, written)
        )
        if len(self._outcomes) >= GROUP_DOCUMENTS:
            self._flush()

    def _flush(self) -> None:
        if self._outcomes:
            self.store.finish_many(self.run_id, self._outcomes)
            self._outcomes = []
