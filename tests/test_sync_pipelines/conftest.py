"""Fixtures shared by the catalog tests: one catalog per backend (SQLite and PostgreSQL)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.tables import Base

#: An S3 source body for catalog tests.
S3 = {"bucket_name": "docs", "region": "us-east-1", "collection_name": "kb1"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """A fresh catalog on SQLite (in a folder it must create) and on PostgreSQL."""
    if request.param == "sqlite":
        cat = Catalog(f"sqlite:///{tmp_path / 'nested' / 'catalog.db'}")
    else:
        cat = Catalog(request.getfixturevalue("pg_url"))
    try:
        yield cat
    finally:
        Base.metadata.drop_all(cat.engine)
        cat.close()
