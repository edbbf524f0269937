"""Stored secrets are encrypted at rest, on SQLite and PostgreSQL.

Contract: inline S3 secret keys and git tokens never reach the catalog in plain text (neither
the SQLite files nor any table's rows); ``get_aws_secret``/``get_git_token`` still return
them; plain rows of older catalogs are encrypted when the catalog is opened (idempotently);
``chroma-sync secrets rotate-key`` re-encrypts every row with a new key, after which the old key
decrypts none; the key file is created with mode 0600; a wrong, malformed or missing key gives
a ``SecretBoxError`` naming where the key comes from, never a key.
"""

import os
import secrets
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import insert, select, text
from typer.testing import CliRunner

from sync_pipelines.catalog import Catalog, SecretDecryptError, SecretKeyError
from sync_pipelines.catalog.secret_box import PREFIX, generate_key, load_secret_box
from sync_pipelines.catalog.tables import AwsCredentialRow, Base, GitTokenRow
from sync_pipelines.cli import app as cli
from sync_pipelines.schemas import CreateSourcePayload
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.conftest import S3


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(
    request: pytest.FixtureRequest, chroma_sync_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The catalog URL of one backend, also the settings' catalog (so the CLI uses it)."""
    if request.param == "sqlite":
        url = f"sqlite:///{chroma_sync_home / 'catalog.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("CHROMA_SYNC_CATALOG_URL", url)
    get_settings.cache_clear()
    yield url
    cleanup = Catalog(url)
    Base.metadata.drop_all(cleanup.engine)
    cleanup.close()


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """A catalog on each backend."""
    cat = Catalog(catalog_url)
    try:
        yield cat
    finally:
        cat.close()


def distinctive() -> str:
    """A value no test data contains by accident."""
    return secrets.token_hex(16)


def add_secrets(catalog: Catalog, aws_secret: str, git_token: str) -> tuple[int, uuid.UUID]:
    """An S3 source with inline keys and a GitHub source with a token; their ids."""
    s3 = catalog.create_source(
        CreateSourcePayload.model_validate(
            {
                "database_name": "db1",
                "s3": {**S3, "aws_access_key_id": "AKIA1", "aws_secret_access_key": aws_secret},
            }
        )
    )
    gh = catalog.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": "db1", "github": {"repository": "a/b", "token": git_token}}
        )
    )
    assert s3.s3 is not None and s3.s3.aws_credential_id is not None
    return s3.s3.aws_credential_id, gh.id


def table_dump(catalog: Catalog) -> str:
    """Every row of every catalog table, rendered as text."""
    with catalog.engine.connect() as conn:
        return "\n".join(
            repr(row)
            for table in Base.metadata.sorted_tables
            for row in conn.execute(text(f"SELECT * FROM {table.name}"))
        )


def stored_values(catalog: Catalog) -> list[str]:
    """The stored values of both secret columns."""
    with catalog.engine.connect() as conn:
        return [
            *conn.scalars(select(AwsCredentialRow.secret_access_key)),
            *conn.scalars(select(GitTokenRow.token)),
        ]


def sqlite_bytes(catalog_url: str) -> bytes:
    """The raw bytes of the SQLite database and its WAL (empty for other backends)."""
    if not catalog_url.startswith("sqlite:///"):
        return b""
    db = Path(catalog_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def key_file() -> Path:
    return get_settings().resolved_secret_key_file


def test_secrets_are_not_stored_in_plain_text(catalog: Catalog, catalog_url: str) -> None:
    aws_secret, git_token, marker = distinctive(), distinctive(), distinctive()
    assert not key_file().exists()
    credential_id, source_id = add_secrets(catalog, aws_secret, git_token)
    catalog.create_credential("db1", f"AKIA{marker}", distinctive())
    dump, raw = table_dump(catalog), sqlite_bytes(catalog_url)
    assert marker in dump and (not raw or marker.encode() in raw)
    for plain in (aws_secret, git_token):
        assert plain not in dump
        assert plain.encode() not in raw
    assert all(value.startswith(PREFIX) for value in stored_values(catalog))
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    secret = catalog.get_aws_secret(credential_id)
    assert secret is not None and secret.secret_access_key == aws_secret
    assert catalog.get_git_token(source_id) == git_token


def test_legacy_plain_rows_are_encrypted_on_open(catalog: Catalog, catalog_url: str) -> None:
    aws_secret, git_token = distinctive(), distinctive()
    source = catalog.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": "db1", "github": {"repository": "a/b"}}
        )
    )
    with catalog.engine.begin() as conn:
        credential_id = conn.execute(
            insert(AwsCredentialRow)
            .values(database_name="db1", access_key_id="AKIA", secret_access_key=aws_secret)
            .values(created_at=source.created_at)
            .returning(AwsCredentialRow.id)
        ).scalar_one()
        conn.execute(insert(GitTokenRow).values(source_id=source.id, token=git_token))
    assert aws_secret in table_dump(catalog) and git_token in table_dump(catalog)
    assert not key_file().exists()

    reopened = Catalog(catalog_url)
    try:
        dump = table_dump(reopened)
        assert aws_secret not in dump and git_token not in dump
        sealed = stored_values(reopened)
        assert all(value.startswith(PREFIX) for value in sealed)
        assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
        assert reopened.encrypt_plain_secrets() == 0
        assert stored_values(reopened) == sealed
        secret = reopened.get_aws_secret(credential_id)
        assert secret is not None and secret.secret_access_key == aws_secret
        assert reopened.get_git_token(source.id) == git_token
    finally:
        reopened.close()


def test_rotate_key_reencrypts_and_retires_the_old_key(catalog: Catalog, catalog_url: str) -> None:
    aws_secret, git_token = distinctive(), distinctive()
    credential_id, source_id = add_secrets(catalog, aws_secret, git_token)
    old_key = key_file().read_text().strip()
    before = stored_values(catalog)

    rotated = CliRunner().invoke(cli, ["secrets", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    assert rotated.stdout == f"re-encrypted 2 stored secrets; the new key is in {key_file()}\n"
    new_key = key_file().read_text().strip()
    assert new_key != old_key and new_key not in rotated.output
    assert aws_secret not in rotated.output and git_token not in rotated.output
    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    assert sorted(p.name for p in key_file().parent.glob("secret.key*")) == ["secret.key"]

    after = stored_values(catalog)
    assert len(after) == 2 and set(after).isdisjoint(before)
    for value in after:
        token = value.removeprefix(PREFIX)
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt(token)
        assert Fernet(new_key).decrypt(token).decode() in (aws_secret, git_token)
    secret = catalog.get_aws_secret(credential_id)
    assert secret is not None and secret.secret_access_key == aws_secret
    assert catalog.get_git_token(source_id) == git_token


def test_rotate_key_with_the_key_setting_prints_the_new_key(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key = generate_key()
    monkeypatch.setenv("CHROMA_SYNC_SECRET_KEY", old_key)
    get_settings.cache_clear()
    git_token = distinctive()
    _, source_id = add_secrets(catalog, distinctive(), git_token)

    rotated = CliRunner().invoke(cli, ["secrets", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.stdout.strip()
    assert Fernet(new_key) and new_key != old_key and not key_file().exists()
    with pytest.raises(SecretDecryptError, match="CHROMA_SYNC_SECRET_KEY"):
        catalog.get_git_token(source_id)
    monkeypatch.setenv("CHROMA_SYNC_SECRET_KEY", new_key)
    get_settings.cache_clear()
    assert catalog.get_git_token(source_id) == git_token

    chosen = generate_key()
    again = CliRunner().invoke(cli, ["secrets", "rotate-key", "--new-key", chosen])
    assert again.exit_code == 0 and chosen not in again.output
    monkeypatch.setenv("CHROMA_SYNC_SECRET_KEY", chosen)
    get_settings.cache_clear()
    assert catalog.get_git_token(source_id) == git_token


def test_failed_rotation_changes_nothing(catalog: Catalog) -> None:
    add_secrets(catalog, distinctive(), distinctive())
    foreign = PREFIX + Fernet(generate_key()).encrypt(b"x").decode()
    with catalog.engine.begin() as conn:
        conn.execute(
            insert(AwsCredentialRow).values(
                database_name="db1",
                access_key_id="AKIA",
                secret_access_key=foreign,
                created_at=catalog.list_credentials()[0].created_at,
            )
        )
    key, before = key_file().read_bytes(), stored_values(catalog)
    rotated = CliRunner().invoke(cli, ["secrets", "rotate-key"])
    assert rotated.exit_code == 1
    assert "aws_credentials.secret_access_key of row" in rotated.output
    assert str(key_file()) in rotated.output
    assert key_file().read_bytes() == key and stored_values(catalog) == before
    assert not key_file().with_name("secret.key.new").exists()


def test_wrong_malformed_or_missing_key_is_a_clear_error(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential_id, source_id = add_secrets(catalog, distinctive(), distinctive())
    right_key = key_file().read_text().strip()
    wrong_key = generate_key()
    monkeypatch.setenv("CHROMA_SYNC_SECRET_KEY", wrong_key)
    get_settings.cache_clear()
    with pytest.raises(SecretDecryptError) as wrong:
        catalog.get_aws_secret(credential_id)
    assert "aws_credentials.secret_access_key" in str(wrong.value)
    assert "CHROMA_SYNC_SECRET_KEY" in str(wrong.value)
    assert wrong_key not in str(wrong.value) and right_key not in str(wrong.value)

    monkeypatch.setenv("CHROMA_SYNC_SECRET_KEY", "not-a-fernet-key")
    get_settings.cache_clear()
    with pytest.raises(SecretKeyError, match="CHROMA_SYNC_SECRET_KEY does not hold a valid"):
        catalog.get_git_token(source_id)

    monkeypatch.delenv("CHROMA_SYNC_SECRET_KEY")
    get_settings.cache_clear()
    key_file().write_text("garbage\n")
    with pytest.raises(SecretKeyError, match=f"key file {key_file()} .* not hold a valid"):
        catalog.get_git_token(source_id)
    key_file().unlink()
    with pytest.raises(SecretKeyError, match="is missing"):
        catalog.get_git_token(source_id)
    with pytest.raises(SecretKeyError, match="is missing"):
        add_secrets(catalog, distinctive(), distinctive())
    assert not key_file().exists()


def test_key_file_created_once_by_concurrent_openers(chroma_sync_home: Path) -> None:
    barrier = threading.Barrier(8)
    keys: list[str] = []

    def create() -> None:
        barrier.wait()
        box = load_secret_box(get_settings(), create=True)
        keys.append(box.seal("probe"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = key_file().read_text().strip()
    assert len(keys) == 8
    assert all(Fernet(stored).decrypt(k.removeprefix(PREFIX)) == b"probe" for k in keys)
    assert stat.S_IMODE(os.stat(key_file()).st_mode) == 0o600
