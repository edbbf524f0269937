"""Invocations: create (per-type rules, 409 on a clash), latest-by-keys, list, get, cancel.

An accepted invocation is stored ``pending`` before the 201 answer; after the answer the
launcher starts its run through Dagster's GraphQL API, and the invocation sensor launches
whatever that missed.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Query, Response, status

from api_bridge.auth import Token, require_database
from api_bridge.deps import CatalogDep, LauncherDep, SourceCacheDep, WriteGateDep
from api_bridge.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
)
from api_bridge.paging import PageDep
from api_bridge.responses import job_map_json, jobs_json, json_response
from api_bridge.validation import check_json_values, plan_invocation
from sync_pipelines.catalog import Catalog, InvocationExistsError, SourceNotFoundError
from sync_pipelines.schemas import (
    CancelJobResponse,
    CreateJobPayload,
    CreateJobResponse,
    ErrorResponse,
    InvocationStatusFilter,
    Job,
    LatestByKeysRequest,
    Source,
    SourceTypeFilter,
)

MAX_KEYS = 1000

router = APIRouter(
    prefix="/api/v1",
    tags=["Invocation"],
    responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 500)},
)


def _visible_source(catalog: Catalog, source_id: uuid.UUID, database_name: str) -> Source:
    source = catalog.get_source(source_id, database_name)
    if source is None:
        raise NotFoundError(f"source {source_id} not found")
    return source


@router.post(
    "/sources/{source_id}/invocations",
    status_code=status.HTTP_201_CREATED,
    response_model=CreateJobResponse,
    responses={409: {"model": ErrorResponse}},
    operation_id="create_job",
)
def create_invocation(
    source_id: uuid.UUID,
    payload: Annotated[CreateJobPayload, Body()],
    token: Token,
    catalog: CatalogDep,
    sources: SourceCacheDep,
    write_gate: WriteGateDep,
    launcher: LauncherDep,
    background: BackgroundTasks,
) -> Response:
    """Queue a pending invocation of a source (409 while a clashing one is active)."""
    source = sources.get(source_id, token.database_name)
    if source is None:
        raise NotFoundError(f"source {source_id} not found")
    metadata = plan_invocation(source, payload)
    try:
        with write_gate:
            job = catalog.create_invocation(source.id, metadata, exclusive=True)
    except InvocationExistsError as exc:
        raise ConflictError(f"invocation exists: {exc}") from exc
    except SourceNotFoundError as exc:
        raise NotFoundError(f"source {source_id} not found") from exc
    background.add_task(launcher.launch, job.id)
    return json_response(CreateJobResponse(invocation_id=job.id), status.HTTP_201_CREATED)


@router.post(
    "/sources/{source_id}/invocations/latest-by-keys",
    response_model=dict[str, Job],
    operation_id="latest_invocations_by_keys",
)
def latest_by_keys(
    source_id: uuid.UUID,
    payload: Annotated[LatestByKeysRequest, Body()],
    token: Token,
    catalog: CatalogDep,
) -> Response:
    """Return the newest invocation of the source for each given object key that has one."""
    source = _visible_source(catalog, source_id, token.database_name)
    if len(payload.object_keys) > MAX_KEYS:
        raise BadRequestError("object_keys", f"at most {MAX_KEYS} keys per request")
    check_json_values(payload.object_keys, "object_keys")
    return json_response(job_map_json(catalog.latest_by_keys(source.id, payload.object_keys)))


@router.get("/invocations", response_model=list[Job], operation_id="list_jobs")
def list_invocations(
    token: Token,
    catalog: CatalogDep,
    page: PageDep,
    source_id: Annotated[uuid.UUID | None, Query()] = None,
    database_name: Annotated[str | None, Query()] = None,
    source_type: SourceTypeFilter | None = None,
    status_filter: Annotated[InvocationStatusFilter | None, Query(alias="status")] = None,
) -> Response:
    """List invocations of one source or of the token's database (a bare array)."""
    if source_id is not None and database_name is not None:
        raise BadRequestError("source_id", "cannot be combined with database_name")
    if database_name is not None:
        require_database(token, database_name)
    if source_id is not None:
        _visible_source(catalog, source_id, token.database_name)
    jobs = catalog.list_invocations(
        database_name=token.database_name,
        source_id=source_id,
        status=status_filter,
        source_type=source_type,
        limit=page.limit,
        offset=page.offset,
        order_by=page.order_by,
    )
    progress = catalog.get_progress_many([job.id for job in jobs if job.status.word != "pending"])
    jobs = [
        job.model_copy(update={"progress": progress[job.id]}) if job.id in progress else job
        for job in jobs
    ]
    return json_response(jobs_json(jobs))


@router.get("/invocations/{invocation_id}", response_model=Job, operation_id="get_job")
def get_invocation(invocation_id: uuid.UUID, token: Token, catalog: CatalogDep) -> Response:
    """Return one invocation of the token's database."""
    job = catalog.get_invocation(invocation_id, token.database_name)
    if job is None:
        raise NotFoundError(f"invocation {invocation_id} not found")
    if job.status.word != "pending":
        job = job.model_copy(update={"progress": catalog.get_progress(invocation_id)})
    return json_response(job)


@router.put(
    "/invocations/{invocation_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelJobResponse,
    responses={412: {"model": ErrorResponse}},
    operation_id="cancel_pending_job",
)
def cancel_invocation(
    invocation_id: uuid.UUID, token: Token, catalog: CatalogDep, write_gate: WriteGateDep
) -> Response:
    """Cancel a pending invocation: 202 ``{}``, or 412 once it is no longer pending."""
    job = catalog.get_invocation(invocation_id, token.database_name)
    if job is None:
        raise NotFoundError(f"invocation {invocation_id} not found")
    with write_gate:
        cancelled = catalog.cancel_if_pending(invocation_id)
    if not cancelled:
        current = catalog.get_invocation(invocation_id, token.database_name)
        word = current.status.word.value if current else job.status.word.value
        raise PreconditionFailedError(f"invocation {invocation_id} is {word}, not pending")
    return json_response(CancelJobResponse(), status.HTTP_202_ACCEPTED)
