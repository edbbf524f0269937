"""Fixtures of the deployment tests: fresh PostgreSQL databases beside the session's ``pg_url``."""

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture(scope="module")
def new_database(pg_url: str) -> Iterator[Callable[[], str]]:
    """Make fresh databases on ``pg_url``'s server, dropped after the module.

    Skips or fails exactly as ``pg_url`` does when PostgreSQL is unreachable.
    """
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"chroma_sync_deploy_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(pg_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
