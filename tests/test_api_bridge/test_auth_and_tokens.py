"""API tokens: storage, the ``chroma-sync token`` commands, and 401 on every operation.

Contract: a token secret is ``chsync_`` + 43 url-safe characters, printed once by
``token create`` and stored only as its sha256; ``token list`` never shows it; a revoked,
wrong or missing token is 401 on every operation except ``/health``; ``--admin`` is recorded;
``token create`` refuses a database name Chroma refuses (under 3 characters) with one error
line and exit code 1, storing nothing.
"""

import hashlib
import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.tables import TokenRow
from sync_pipelines.cli import app as cli
from tests.test_api_bridge.conftest import SPEC


def test_token_is_stored_only_as_its_hash(catalog: Catalog) -> None:
    token, secret = catalog.create_token("db1", admin=True, label="ci")
    assert re.fullmatch(r"chsync_[A-Za-z0-9_-]{43}", secret)
    with catalog.engine.connect() as conn:
        rows = conn.execute(select(TokenRow.__table__)).mappings().all()
    assert len(rows) == 1
    assert secret not in str(dict(rows[0]))
    assert rows[0]["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    found = catalog.authenticate_token(secret)
    assert found is not None and (found.id, found.admin, found.label) == (token.id, True, "ci")
    assert catalog.authenticate_token(secret + "x") is None
    assert catalog.authenticate_token("not-a-token") is None
    assert catalog.revoke_token(token.id)
    assert not catalog.revoke_token(token.id)
    assert catalog.authenticate_token(secret) is None


def test_cli_token_commands(chroma_sync_home) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    created = runner.invoke(cli, ["token", "create", "--database", "db1", "--admin"])
    assert created.exit_code == 0, created.output
    secrets_printed = re.findall(r"chsync_[A-Za-z0-9_-]{43}", created.output)
    assert len(secrets_printed) == 1
    listed = runner.invoke(cli, ["token", "list"])
    assert listed.exit_code == 0
    assert "db1\tadmin" in listed.output and "active" in listed.output
    assert secrets_printed[0] not in listed.output
    catalog = Catalog()
    try:
        token = catalog.authenticate_token(secrets_printed[0])
        assert token is not None and token.admin
        revoked = runner.invoke(cli, ["token", "revoke", str(token.id)])
        assert revoked.exit_code == 0
        assert catalog.authenticate_token(secrets_printed[0]) is None
    finally:
        catalog.close()
    assert runner.invoke(cli, ["token", "revoke", "999"]).exit_code == 1
    for refused in ("", "ab"):
        short = runner.invoke(cli, ["token", "create", "--database", refused])
        assert short.exit_code == 1
        assert short.output.splitlines() == [
            f"error: --database {refused!r}: must be at least 3 characters"
        ]
    catalog = Catalog()
    try:
        assert [t.database_name for t in catalog.list_tokens()] == ["db1"]
    finally:
        catalog.close()


def test_every_operation_but_health_needs_a_valid_token(
    client: TestClient, catalog: Catalog
) -> None:
    token, secret = catalog.create_token("db1", admin=True)
    catalog.revoke_token(token.id)
    some_id = uuid.uuid4()
    for path, methods in SPEC["paths"].items():
        if path == "/health":
            continue
        url = path.replace("{source_id}", str(some_id)).replace("{invocation_id}", str(some_id))
        for method in methods:
            for headers in ({}, {"x-chroma-token": "chsync_wrong"}, {"x-chroma-token": secret}):
                response = client.request(method, url, headers=headers, json={})
                assert response.status_code == 401, (method, url, headers)
                assert response.json()["error"] == "UnauthenticatedError"
                assert secret not in response.text
    assert client.get("/health").status_code == 200
