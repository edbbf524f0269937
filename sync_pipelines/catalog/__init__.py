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
from sync_pipelines.catalog.secret_box import SecretBoxError, SecretDecryptError, SecretKeyError

__all__ = [
    "AwsCredential",
    "AwsSecret",
    "Catalog",
    "CatalogError",
    "CredentialNotFoundError",
    "InvocationExistsError",
    "InvocationRecord",
    "SecretBoxError",
    "SecretDecryptError",
    "SecretKeyError",
    "SourceNotFoundError",
    "make_engine",
]
