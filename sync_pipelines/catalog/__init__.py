"""The catalog: sources, AWS credentials and invocations in SQLite or PostgreSQL."""

from sync_pipelines.catalog.catalog import Catalog
from sync_pipelines.catalog.engine import make_engine
from sync_pipelines.catalog.models import (
    AwsCredential,
    AwsSecret,
    CatalogError,
    CredentialNotFoundError,
    InvocationExistsError,
    InvocationRecord,
    SourceNotFoundError,
)

__all__ = [
    "AwsCredential",
    "AwsSecret",
    "Catalog",
    "CatalogError",
    "CredentialNotFoundError",
    "InvocationExistsError",
    "InvocationRecord",
    "SourceNotFoundError",
    "make_engine",
]
