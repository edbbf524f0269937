"""``/api/v1/sources``: create, list, get and delete sources of the token's database."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from api_bridge.auth import Token, require_admin, require_database
from api_bridge.deps import CatalogDep, SettingsDep, SourceCacheDep, WriteGateDep
from api_bridge.errors import NotFoundError
from api_bridge.paging import PageDep
from api_bridge.responses import json_response, sources_json
from api_bridge.source_checks import check_source_reach
from api_bridge.validation import (
    check_dense_model,
    check_json_values,
    check_sparse,
    check_web_source,
)
from sync_pipelines.catalog import CredentialNotFoundError
from sync_pipelines.schemas import (
    CreateSourcePayload,
    CreateSourceResponse,
    ErrorResponse,
    Source,
    SourceTypeFilter,
)

router = APIRouter(
    prefix="/api/v1/sources",
    tags=["Source"],
    responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 500)},
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CreateSourceResponse,
    operation_id="create_source",
)
def create_source(
    payload: Annotated[CreateSourcePayload, Body()],
    token: Token,
    catalog: CatalogDep,
    settings: SettingsDep,
    write_gate: WriteGateDep,
) -> Response:
    """Create a source in the token's database (admin tokens only)."""
    require_admin(token, "creating a source")
    require_database(token, payload.database_name)
    check_json_values(payload.model_dump(mode="python"), "body")
    check_dense_model(payload.resolved_embedding_model(), settings, "embedding.dense.model")
    check_sparse(payload.embedding, "embedding.sparse")
    check_web_source(payload.web_scrape, settings)
    check_source_reach(payload, settings)
    try:
        with write_gate:
            source = catalog.create_source(payload)
    except CredentialNotFoundError as exc:
        raise NotFoundError(f"s3.aws_credential_id: {exc}") from exc
    return json_response(CreateSourceResponse(source_id=source.id), status.HTTP_201_CREATED)


@router.get("", response_model=list[Source], operation_id="list_sources")
def list_sources(
    token: Token,
    catalog: CatalogDep,
    page: PageDep,
    database_name: Annotated[str | None, Query()] = None,
    source_type: SourceTypeFilter | None = None,
) -> Response:
    """List the token's database's sources (a bare array), newest first by default."""
    if database_name is not None:
        require_database(token, database_name)
    sources = catalog.list_sources(
        database_name=token.database_name,
        source_type=source_type,
        limit=page.limit,
        offset=page.offset,
        order_by=page.order_by,
    )
    return json_response(sources_json(sources))


@router.get("/{source_id}", response_model=Source, operation_id="get_source")
def get_source(source_id: uuid.UUID, token: Token, catalog: CatalogDep) -> Response:
    """Return one source of the token's database."""
    source = catalog.get_source(source_id, token.database_name)
    if source is None:
        raise NotFoundError(f"source {source_id} not found")
    return json_response(source)


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="delete_source")
def delete_source(
    source_id: uuid.UUID,
    token: Token,
    catalog: CatalogDep,
    sources: SourceCacheDep,
    write_gate: WriteGateDep,
) -> Response:
    """Delete a source (admin tokens only); its pending invocations are cancelled."""
    require_admin(token, "deleting a source")
    with write_gate:
        deleted = catalog.delete_source(source_id, token.database_name)
    sources.forget(source_id)
    if not deleted:
        raise NotFoundError(f"source {source_id} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
