"""Shared fixtures: one catalog per backend (SQLite and PostgreSQL), and a local website."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.tables import Base
from sync_pipelines.devtools.web_site import LocalWebSite

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


@pytest.fixture
def site() -> Iterator[LocalWebSite]:
    """A real website on 127.0.0.1 for the crawler tests (pages added by each test)."""
    with LocalWebSite() as local:
        yield local
