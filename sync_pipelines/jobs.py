"""Per-source-type jobs: fetch -> chunk -> upsert."""

import dagster as dg

from sync_pipelines.names import SYNC_S3_OBJECT_JOB
from sync_pipelines.ops.documents import chunk_op, upsert_op
from sync_pipelines.ops.s3 import fetch_s3_object_op


@dg.job(
    name=SYNC_S3_OBJECT_JOB,
    description=(
        "Sync one S3 object into its source's Chroma collection: download it (size cap checked "
        "first), parse and chunk it, embed changed chunks and replace the object's chunks."
    ),
    tags={"chroma_sync/source_type": "s3"},
)
def sync_s3_object_job() -> None:
    """Fetch -> chunk -> upsert for one S3 object."""
    upsert_op(chunk_op(fetch_s3_object_op()))
