"""Fast JSON answers built straight from pydantic models (no second validation pass)."""

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from sync_pipelines.schemas import Job, Source

_JOBS: TypeAdapter[list[Job]] = TypeAdapter(list[Job])
_SOURCES: TypeAdapter[list[Source]] = TypeAdapter(list[Source])
_JOB_MAP: TypeAdapter[dict[str, Job]] = TypeAdapter(dict[str, Job])


def json_response(payload: BaseModel | bytes, status_code: int = 200) -> Response:
    """Answer with a model's JSON (or ready JSON bytes)."""
    body = payload if isinstance(payload, bytes) else payload.model_dump_json()
    return Response(content=body, status_code=status_code, media_type="application/json")


def jobs_json(jobs: list[Job]) -> bytes:
    """A bare JSON array of jobs."""
    return _JOBS.dump_json(jobs)


def sources_json(sources: list[Source]) -> bytes:
    """A bare JSON array of sources."""
    return _SOURCES.dump_json(sources)


def job_map_json(jobs: dict[str, Any]) -> bytes:
    """A JSON object of object key -> job."""
    return _JOB_MAP.dump_json(jobs)
