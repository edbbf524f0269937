"""The add-file upload store as a Dagster resource."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from sync_pipelines.uploads import UploadStore


class UploadStoreResource(dg.ConfigurableResource):
    """Files received by ``POST /api/v1/add-file``, read back by the upload job."""

    root: str = Field(description="Folder the API stores uploads in.")

    def get_store(self) -> UploadStore:
        """Return the upload store."""
        return UploadStore(Path(self.root))
