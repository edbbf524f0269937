"""Benchmark: a generated N-page docs site crawled and synced by ``sync_web_job``.

Serves the site with ``LocalWebSite`` on 127.0.0.1 (ETags on, so re-crawls can answer 304),
syncs it into an embedded Chroma in a temporary folder, and prints the full sync's wall time,
pages/s and chunks/s with the share spent embedding; then a re-sync where nothing changed and its
ratio to the full sync (target: under 10%); then a crawl of the same site without the sync (the
crawler alone) as a baseline for where the time goes; and, with ``--per-page-baseline``, the
same full sync with each page written (and embedded) on its own, as before pages were grouped.

    .venv/bin/python bench/web_sync.py --pages 500
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--per-page-baseline",
        action="store_true",
        help="also run a full sync that writes one page at a time (the old way)",
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-web-"))
    os.environ["CHROMA_SYNC_HOME"] = str(scratch / "home")
    os.environ["CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS"] = json.dumps(["127.0.0.1"])
    os.environ["CHROMA_SYNC_CRAWL_CONCURRENCY"] = str(args.concurrency)
    import dagster as dg

    from sync_pipelines.catalog import Catalog
    from sync_pipelines.core import batch_writer
    from sync_pipelines.definitions import build_definitions
    from sync_pipelines.devtools.web_site import LocalWebSite
    from sync_pipelines.names import CRAWL_WEB_OP, SYNC_WEB_JOB
    from sync_pipelines.ops.web import WebSyncConfig
    from sync_pipelines.schemas import CreateSourcePayload
    from sync_pipelines.settings import get_settings
    from sync_pipelines.web import CrawlLimits, crawl

    settings = get_settings()
    store = Catalog(settings.resolved_catalog_url)
    job = build_definitions(settings).resolve_job_def(SYNC_WEB_JOB)
    quiet = {"console": {"config": {"log_level": "ERROR"}}}
    instance = dg.DagsterInstance.ephemeral()

    with LocalWebSite() as site:
        paths = site.add_docs_site(args.pages)
        site.add_html("/warm", "Warm-up", "<p>Loads the model and the extractor.</p>")

        def source_for(path: str) -> str:
            body = {
                "database_name": "bench",
                "web_scrape": {"starting_url": site.url(path), "page_limit": args.pages + 10},
            }
            return str(store.create_source(CreateSourcePayload.model_validate(body)).id)

        def run(source_id: str, collection: str) -> tuple[float, dict[str, Any]]:
            config = WebSyncConfig(source_id=source_id, target_collection=collection)
            started = time.perf_counter()
            result = job.execute_in_process(
                run_config=dg.RunConfig(ops={CRAWL_WEB_OP: config}, loggers=quiet),
                instance=instance,
            )
            wall = time.perf_counter() - started
            # A crawl that fetched more pages than one shard finishes in finish_web_op.
            last = "upsert_web_op" if result.is_node_success("upsert_web_op") else "finish_web_op"
            counts: dict[str, Any] = result.output_for_node(last)
            embed = 0.0
            for event in result.all_events:
                if event.step_key == last and event.event_type_value == "STEP_OUTPUT":
                    embed = float(event.event_specific_data.metadata["embed_seconds"].value)
            counts["embed_seconds"] = embed
            return wall, counts

        run(source_for("/warm"), "warm")
        source_id = source_for(paths[0])
        full_wall, full = run(source_id, "bench")
        site.clear_log()
        noop_wall, noop = run(source_id, "bench")
        not_modified = sum(1 for r in site.log if r.status == 304)

        per_page_wall = 0.0
        if args.per_page_baseline:
            grouped = batch_writer.DOCUMENTS_PER_WRITE
            batch_writer.DOCUMENTS_PER_WRITE = 1
            per_page_wall, _ = run(source_for(paths[0]), "bench-per-page")
            batch_writer.DOCUMENTS_PER_WRITE = grouped

        limits = CrawlLimits(max_depth=None, page_limit=args.pages + 10)
        policy = build_definitions(settings).resources["web"].policy()  # type: ignore[attr-defined]
        started = time.perf_counter()
        crawled = sum(1 for page in crawl(site.url(paths[0]), limits, policy))
        crawl_wall = time.perf_counter() - started

    written = full["pages_written"]
    print(f"pages: {args.pages} (written {written})  chunks: {full['chunks_written']}")
    print(f"full sync: {full_wall:.2f} s")
    print(f"  pages/s:  {written / full_wall:.1f}")
    print(f"  chunks/s: {full['chunks_written'] / full_wall:.1f}")
    embed_share = 100 * full["embed_seconds"] / full_wall
    print(f"  embedding: {full['embed_seconds']:.2f} s = {embed_share:.1f}%")
    print(
        f"re-sync, nothing changed: {noop_wall:.3f} s = {100 * noop_wall / full_wall:.2f}% of the "
        f"full sync (target < 10%; 304 answers {not_modified}, chunks embedded "
        f"{noop['chunks_written']}, pages unchanged {noop['pages_unchanged']})"
    )
    if per_page_wall:
        print(
            f"baseline, one page per write: {per_page_wall:.2f} s = "
            f"{written / per_page_wall:.1f} pages/s; grouped pages are "
            f"{per_page_wall / full_wall:.2f}x as fast"
        )
    print(
        f"crawl alone (fetch + extract, no sync): {crawled} pages in {crawl_wall:.2f} s = "
        f"{crawled / crawl_wall:.1f} pages/s"
    )


if __name__ == "__main__":
    main()
