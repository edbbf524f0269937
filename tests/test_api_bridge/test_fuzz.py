"""Property-based fuzzing of every operation of the patched spec with schemathesis.

Contract: for generated requests (valid and invalid bodies, queries, path ids — half the time
pointing at a real source or invocation), with a valid admin token, the API never answers 5xx,
answers only statuses the spec lists, and every body conforms to the spec's schema; the
success paths of the read operations are reached. ``CHROMA_SYNC_FUZZ_EXAMPLES`` (default 200)
examples per operation, positive and negative, take about 20-30 s on two cores.
"""

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api_bridge.app import create_app
from api_bridge.spec import load_spec
from sync_pipelines.catalog import Catalog
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata
from sync_pipelines.settings import Settings
from tests.test_api_bridge.conftest import S3, check_response

FUZZ_EXAMPLES = int(os.environ.get("CHROMA_SYNC_FUZZ_EXAMPLES", "200"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _seed(catalog: Catalog) -> dict[str, str]:
    source = catalog.create_source(
        CreateSourcePayload.model_validate({"database_name": "db1", "s3": S3})
    )
    metadata = IndexJobMetadata.model_validate(
        {"database_name": "db1", "collection_name": "kb1", "s3": {"bucket_name": "docs"}}
    )
    job = catalog.create_invocation(source.id, metadata, object_key="seed")
    return {"source_id": str(source.id), "invocation_id": str(job.id)}


def test_fuzz_every_operation(settings: Settings) -> None:
    app = create_app(settings, orchestrator_probe=lambda: True)
    catalog: Catalog = app.state.catalog
    _, secret = catalog.create_token("db1", admin=True)
    schema = schemathesis.openapi.from_dict(load_spec())
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    answered: list[tuple[str, int]] = []
    assert len(operations) == 11

    for operation in operations:
        fuzz_operation(operation, _seed(catalog), secret, answered)

    succeeded = {label for label, status in answered if status < 300}
    assert len(succeeded) >= 6, sorted(set(answered))


def fuzz_operation(
    operation: Any, real_ids: dict[str, str], secret: str, answered: list[tuple[str, int]]
) -> None:
    """Run ``FUZZ_EXAMPLES`` positive and negative cases of one operation."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @hypothesis_settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, use_real_ids=st.booleans())
    def run(case: Any, use_real_ids: bool) -> None:
        if use_real_ids:
            for name in case.path_parameters or {}:
                case.path_parameters[name] = real_ids[name]
            if isinstance(case.body, dict) and "database_name" in case.body:
                case.body["database_name"] = "db1"
        response = case.call(headers={"x-chroma-token": secret})
        answered.append((case.operation.label, response.status_code))
        case.validate_response(response, checks=CHECKS)
        check_response(case.method, case.formatted_path, response.status_code, response.content)

    run()
