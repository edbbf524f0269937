"""Shared fixtures: a real SeaweedFS S3 server, an isolated chroma-sync home, the model folder.

Every test runs with ``CHROMA_SYNC_HOME`` pointing at its own temporary folder, so catalogs and
Chroma data never leak between tests; the embedding model is shared read-only from the folder
setup provisioned (``chroma-sync model install``).
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.resources.chroma import reset_client_cache
from sync_pipelines.settings import Settings, get_settings

PG_URL = os.environ.get(
    "CHROMA_SYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("CHROMA_SYNC_REQUIRE_PG") == "1"
MODEL_DIR = Settings().resolved_model_dir
os.environ["CHROMA_SYNC_MODEL_DIR"] = str(MODEL_DIR)
os.environ.setdefault("DAGSTER_HOME", "")
# Test servers (git daemon, SeaweedFS, web sites) listen on loopback, which the outbound policy
# refuses by default; tests of the policy itself clear or override this.
os.environ["CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS"] = '["127.0.0.1"]'
# Keyless S3 sources in tests use the server's credentials, as on a one-tenant install; the
# tenant tests (test_cross_tenant, test_server_credentials) take the grant away.
os.environ["CHROMA_SYNC_S3_SERVER_CREDENTIALS_DATABASES"] = '["*"]'


@pytest.fixture(autouse=True)
def chroma_sync_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Give each test its own chroma-sync home folder (catalog, Chroma data)."""
    home = tmp_path / "home"
    monkeypatch.setenv("CHROMA_SYNC_HOME", str(home))
    monkeypatch.setenv("CHROMA_SYNC_MODEL_DIR", str(MODEL_DIR))
    monkeypatch.delenv("CHROMA_SYNC_CATALOG_URL", raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    reset_client_cache()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    """A SeaweedFS S3 server on 127.0.0.1 for the whole session."""
    with LocalS3Server(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_client(s3_server: LocalS3Server) -> Any:
    """A boto3 client for the session's S3 server."""
    return s3_server.client()


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A new, empty bucket for one test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the session, dropped afterwards.

    Skips when PostgreSQL is unreachable, unless ``CHROMA_SYNC_REQUIRE_PG=1`` (CI), which fails.
    """
    base = make_url(PG_URL)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}")
    name = f"chroma_sync_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
