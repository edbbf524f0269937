"""``chroma-sync credentials create|list``: stored AWS keys for S3 sources (``aws_credential_id``).

Admin commands, like ``token``: they work on the server's catalog directly (the home's, or
``CHROMA_SYNC_CATALOG_URL``), not over HTTP. The secret key is encrypted at rest with the
server's secret key and never printed; an S3 source then names the credential with
``sources create --aws-credential-id ID`` instead of carrying keys.
"""

from typing import Annotated

import typer

from sync_pipelines.client.home import ensure_home, require_catalog
from sync_pipelines.client.output import JsonOption, fail, print_json, print_table

credentials_app = typer.Typer(
    help="Store and list AWS keys for S3 sources (aws_credential_id). Admin commands: run them "
    "on the server, they work on its catalog directly, like `token`.",
    no_args_is_help=True,
)


@credentials_app.command("create")
def create_credential(
    database: Annotated[
        str, typer.Option(help="The database whose S3 sources may use the credential.")
    ],
    access_key_id: Annotated[
        str, typer.Option(envvar="AWS_ACCESS_KEY_ID", prompt=True, help="AWS access key id.")
    ],
    secret_access_key: Annotated[
        str,
        typer.Option(
            envvar="AWS_SECRET_ACCESS_KEY",
            prompt=True,
            hide_input=True,
            show_default=False,
            help="AWS secret access key (prompted for, or AWS_SECRET_ACCESS_KEY: keep it off "
            "the command line).",
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Store AWS keys (the secret encrypted) and print the credential's id."""
    from sync_pipelines.catalog import Catalog, SecretBoxError
    from sync_pipelines.schemas.common import check_database_name

    try:
        check_database_name(database)
    except ValueError as exc:
        raise fail(f"--database {database!r}: {exc}") from None
    if not access_key_id.strip() or not secret_access_key.strip():
        raise fail("the access key id and the secret key must not be empty")
    ensure_home()
    catalog = Catalog()
    try:
        credential = catalog.create_credential(database, access_key_id, secret_access_key)
    except SecretBoxError as exc:
        raise fail(str(exc)) from None
    finally:
        catalog.close()
    if as_json:
        print_json(credential.model_dump(mode="json"))
        return
    typer.echo(
        f"credential {credential.id} for database {credential.database_name!r} (access key "
        f"{credential.access_key_id}); use it with: chroma-sync sources create "
        f"--aws-credential-id {credential.id} ..."
    )


@credentials_app.command("list")
def list_credentials(
    database: Annotated[str | None, typer.Option(help="Only this database's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List stored credentials: id, database, access key id (never a secret)."""
    from sync_pipelines.catalog import Catalog

    require_catalog()
    catalog = Catalog()
    try:
        credentials = catalog.list_credentials(database)
    finally:
        catalog.close()
    if as_json:
        print_json([c.model_dump(mode="json") for c in credentials])
        return
    rows = [
        [str(c.id), c.database_name, c.access_key_id, f"{c.created_at:%Y-%m-%dT%H:%M:%SZ}"]
        for c in credentials
    ]
    print_table(rows, ["ID", "DATABASE", "ACCESS KEY", "CREATED"])
