"""Per-source-type jobs: fetch -> chunk -> upsert.

The executor is not set here: ``sync_pipelines.definitions`` applies the one the settings
select (``sync_pipelines.scale_out``): by default every op of a run in the run's own process
(a separate process per op costs ~2.5 s each here), or each op on a Celery worker.
"""

import dagster as dg

from sync_pipelines.names import (
    SYNC_FILE_UPLOAD_JOB,
    SYNC_GITHUB_JOB,
    SYNC_S3_BATCH_JOB,
    SYNC_S3_OBJECT_JOB,
    SYNC_WEB_JOB,
)
from sync_pipelines.ops.documents import chunk_op, upsert_op
from sync_pipelines.ops.github import fetch_github_op
from sync_pipelines.ops.github_shards import finish_github_op, sync_github_shard_op
from sync_pipelines.ops.github_write import chunk_github_op, upsert_github_op
from sync_pipelines.ops.s3 import fetch_s3_object_op
from sync_pipelines.ops.s3_batch import sync_s3_batch_op
from sync_pipelines.ops.tracking import mark_invocation_failed
from sync_pipelines.ops.uploads import fetch_upload_op
from sync_pipelines.ops.web import crawl_web_op
from sync_pipelines.ops.web_shards import finish_web_op, sync_web_shard_op
from sync_pipelines.ops.web_write import chunk_web_op, upsert_web_op


@dg.job(
    name=SYNC_S3_OBJECT_JOB,
    description=(
        "Sync one S3 object into its source's Chroma collection: download it (size cap checked "
        "first), parse and chunk it, embed changed chunks and replace the object's chunks."
    ),
    tags={"chroma_sync/source_type": "s3"},
    hooks={mark_invocation_failed},
)
def sync_s3_object_job() -> None:
    """Fetch -> chunk -> upsert for one S3 object."""
    upsert_op(chunk_op(fetch_s3_object_op()))


@dg.job(
    name=SYNC_S3_BATCH_JOB,
    description=(
        "Sync a batch of pending S3 invocations of one source in one run: claim them, then "
        "fetch, chunk, embed and write each object; every invocation completes or fails on "
        "its own."
    ),
    tags={"chroma_sync/source_type": "s3"},
    hooks={mark_invocation_failed},
)
def sync_s3_batch_job() -> None:
    """One op serves the whole batch (several objects per embedding call)."""
    sync_s3_batch_op()


@dg.job(
    name=SYNC_FILE_UPLOAD_JOB,
    description=(
        "Sync one file received by add-file into its collection, exactly like an S3 object: "
        "parse, chunk, embed changed chunks and replace the file's chunks."
    ),
    tags={"chroma_sync/source_type": "file_upload"},
    hooks={mark_invocation_failed},
)
def sync_file_upload_job() -> None:
    """Fetch -> chunk -> upsert for one uploaded file."""
    upsert_op(chunk_op(fetch_upload_op()))


@dg.job(
    name=SYNC_GITHUB_JOB,
    description=(
        "Sync a GitHub repository at a ref into a collection: fetch the mirror, read only the "
        "files whose blob changed since the collection's recorded commit, chunk them, embed "
        "changed chunks, delete chunks of deleted files, and record the commit. A big change "
        "is split into shards of bounded size, each synced by its own step (on any worker)."
    ),
    tags={"chroma_sync/source_type": "github"},
    hooks={mark_invocation_failed},
)
def sync_github_job() -> None:
    """Plan, then either fetch -> chunk -> upsert (one shard) or one step per shard + finish."""
    whole, plan, shards = fetch_github_op()
    upsert_github_op(chunk_github_op(whole))
    finish_github_op(plan, shards.map(sync_github_shard_op).collect())


@dg.job(
    name=SYNC_WEB_JOB,
    description=(
        "Sync a website into a collection: crawl it from the starting URL (same host, "
        "robots.txt, sitemap, limits, private-address guard, conditional GETs), extract each "
        "page's main content as markdown, embed changed pages and remove pages that are gone. "
        "When the crawl fetched more pages than one shard holds, each shard of pages is "
        "chunked and written by its own step (on any worker)."
    ),
    tags={"chroma_sync/source_type": "web_scrape"},
    hooks={mark_invocation_failed},
)
def sync_web_job() -> None:
    """Crawl, then chunk -> upsert (one shard) or one step per shard of fetched pages + finish."""
    whole, plan, shards = crawl_web_op()
    upsert_web_op(chunk_web_op(whole))
    finish_web_op(plan, shards.map(sync_web_shard_op).collect())


SYNC_JOBS = [
    sync_s3_object_job,
    sync_s3_batch_job,
    sync_file_upload_job,
    sync_github_job,
    sync_web_job,
]
"""Every sync job: registered in the definitions and watched by the invocation sensors."""
