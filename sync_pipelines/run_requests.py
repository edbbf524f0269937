"""Turn a pending invocation into the Dagster run request that syncs it.

The plan itself (job, op config, tags, run key) comes from the Dagster-free ``run_plans``;
here it becomes a ``dagster.RunRequest`` whose op config is checked against the op's typed
``Config`` class, so a plan that drifts from an op's config fails loudly in the sensor.
"""

from collections.abc import Sequence

import dagster as dg

from sync_pipelines.catalog.models import InvocationRecord
from sync_pipelines.names import (
    CRAWL_WEB_OP,
    FETCH_GITHUB_OP,
    FETCH_S3_OBJECT_OP,
    FETCH_UPLOAD_OP,
    SYNC_S3_BATCH_OP,
)
from sync_pipelines.ops.github import GithubSyncConfig
from sync_pipelines.ops.s3 import S3ObjectConfig
from sync_pipelines.ops.s3_batch import S3BatchConfig
from sync_pipelines.ops.uploads import FileUploadConfig
from sync_pipelines.ops.web import WebSyncConfig
from sync_pipelines.run_plans import (
    RunPlan,
    UnsupportedInvocationError,
    batch_plan_for,
    plan_for,
)
from sync_pipelines.schemas import Source

__all__ = ["UnsupportedInvocationError", "batch_run_request_for", "run_request_for"]

_CONFIG_CLASSES: dict[str, type[dg.Config]] = {
    FETCH_S3_OBJECT_OP: S3ObjectConfig,
    FETCH_UPLOAD_OP: FileUploadConfig,
    FETCH_GITHUB_OP: GithubSyncConfig,
    CRAWL_WEB_OP: WebSyncConfig,
    SYNC_S3_BATCH_OP: S3BatchConfig,
}


def _request(plan: RunPlan) -> dg.RunRequest:
    config = _CONFIG_CLASSES[plan.op_name](**plan.op_config)
    return dg.RunRequest(
        run_key=plan.run_key,
        job_name=plan.job_name,
        run_config=dg.RunConfig(ops={plan.op_name: config}),
        tags=plan.tags,
    )


def run_request_for(
    record: InvocationRecord, source: Source | None, *, max_object_bytes: int
) -> dg.RunRequest:
    """Build the run request for one pending invocation (see ``run_plans.plan_for``).

    Raises:
        UnsupportedInvocationError: The source is gone or its type has no job yet.
    """
    return _request(plan_for(record, source, max_object_bytes=max_object_bytes))


def batch_run_request_for(
    records: Sequence[InvocationRecord], source: Source | None, *, max_object_bytes: int
) -> dg.RunRequest:
    """Build the run request that syncs several pending S3 invocations of one source.

    See ``run_plans.batch_plan_for``.

    Raises:
        UnsupportedInvocationError: The source is gone or is not an S3 source, or a record is
            not an S3 invocation of it.
    """
    return _request(batch_plan_for(records, source, max_object_bytes=max_object_bytes))
