"""Launch an accepted invocation's run at once through Dagster's GraphQL API.

This is the fast path: the invocation sensor is the safety net that launches whatever this path
missed (Dagster down, bridge restarted). Both give the run the same ``dagster/run_key`` and
``dagster/sensor_name`` tags, so the sensor recognises a run launched here as its own and never
starts a second one; the first op's compare-and-set on the invocation status is the last guard.

S3 invocations are batched: one is launched here only while it is the only pending invocation
of its source; with others pending it is left to the sensor, which serves them in one batch
run (so a burst of creates does not start a run per invocation).
"""

import logging
import uuid
from typing import Any, Protocol

import requests

from sync_pipelines.catalog import Catalog, InvocationRecord
from sync_pipelines.names import INVOCATION_SENSOR
from sync_pipelines.run_plans import UnsupportedInvocationError, plan_for

logger = logging.getLogger(__name__)

LOCATION_NAME = "chroma_sync"
REPOSITORY_NAME = "__repository__"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"

_LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


class RunLauncher(Protocol):
    """Starts the run of a freshly accepted invocation (best effort)."""

    def launch(self, invocation_id: uuid.UUID) -> str | None:
        """Launch the invocation's run; return its run id, or ``None`` when not launched."""


class SensorOnlyLauncher:
    """Launches nothing: the invocation sensor picks every invocation up on its next tick."""

    def launch(self, invocation_id: uuid.UUID) -> str | None:
        """Leave the invocation to the sensor."""
        return None


class GraphQLRunLauncher:
    """Launches runs through the Dagster webserver's GraphQL ``launchRun`` mutation."""

    def __init__(
        self,
        dagster_url: str,
        catalog: Catalog,
        *,
        max_object_bytes: int,
        timeout: float = 5.0,
        max_batch_invocations: int = 1,
    ) -> None:
        """Point the launcher at a Dagster webserver.

        Args:
            dagster_url: The webserver's base URL.
            catalog: Where invocations are read.
            max_object_bytes: Size cap for one object, passed to the run config.
            timeout: Seconds one GraphQL call may take.
            max_batch_invocations: Above 1, S3 invocations are batched by the invocation sensor:
                one is launched here only while it is its source's only pending invocation.
        """
        self.endpoint = dagster_url.rstrip("/") + "/graphql"
        self.catalog = catalog
        self.max_object_bytes = max_object_bytes
        self.timeout = timeout
        self.max_batch_invocations = max_batch_invocations
        self._session = requests.Session()

    def _left_to_sensor(self, record: InvocationRecord) -> bool:
        """An S3 invocation with others pending for its source waits for the sensor's batch."""
        source_id = record.job.source_id
        if self.max_batch_invocations <= 1 or record.source_type != "s3" or source_id is None:
            return False
        return self.catalog.count_pending(source_id, limit=2) > 1

    def _params(self, invocation_id: uuid.UUID) -> dict[str, Any] | None:
        record = self.catalog.get_invocation_record(invocation_id)
        if record is None or record.job.status.word != "pending":
            return None
        if self._left_to_sensor(record):
            return None
        source_id = record.job.source_id
        source = self.catalog.get_source(source_id) if source_id is not None else None
        try:
            plan = plan_for(record, source, max_object_bytes=self.max_object_bytes)
        except UnsupportedInvocationError:
            return None  # the sensor fails it with the reason
        tags = {**plan.tags, RUN_KEY_TAG: str(invocation_id), SENSOR_NAME_TAG: INVOCATION_SENSOR}
        return {
            "selector": {
                "repositoryLocationName": LOCATION_NAME,
                "repositoryName": REPOSITORY_NAME,
                "jobName": plan.job_name,
            },
            "runConfigData": plan.run_config,
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }

    def launch(self, invocation_id: uuid.UUID) -> str | None:
        """Launch the invocation's run; failures are logged and left to the sensor."""
        params = self._params(invocation_id)
        if params is None:
            return None
        try:
            response = self._session.post(
                self.endpoint,
                json={"query": _LAUNCH_RUN, "variables": {"params": params}},
                timeout=self.timeout,
            )
            response.raise_for_status()
            result = response.json()["data"]["launchRun"]
        except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
            logger.warning("direct launch of invocation %s failed: %s", invocation_id, exc)
            return None
        if result.get("__typename") != "LaunchRunSuccess":
            logger.warning(
                "direct launch of invocation %s refused: %s", invocation_id, result["__typename"]
            )
            return None
        run_id: str = result["run"]["runId"]
        return run_id
