"""The catalog (sources, credentials, invocations) as a Dagster resource."""

import threading

import dagster as dg
from pydantic import Field

from sync_pipelines.catalog import Catalog

_lock = threading.Lock()
_catalogs: dict[str, Catalog] = {}


class CatalogResource(dg.ConfigurableResource):
    """The chroma-sync catalog at a SQLAlchemy URL (SQLite by default, PostgreSQL to scale out)."""

    url: str = Field(description="SQLAlchemy URL of the catalog.")

    def get_catalog(self) -> Catalog:
        """Return the (process-wide, cached) catalog for ``url``."""
        with _lock:
            catalog = _catalogs.get(self.url)
            if catalog is None:
                catalog = Catalog(self.url)
                _catalogs[self.url] = catalog
            return catalog
