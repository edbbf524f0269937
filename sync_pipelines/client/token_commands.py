"""``chroma-sync token create|list|revoke``: API tokens, on the home's catalog directly.

Admin commands: they run where the server runs and open its catalog (``--home`` /
``CHROMA_SYNC_HOME``, or ``CHROMA_SYNC_CATALOG_URL``), not the HTTP API. ``--json`` prints
machine-readable output; a token's secret appears only in ``token create``'s output, once.
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_pipelines.client.home import ensure_home, require_catalog
from sync_pipelines.client.output import JsonOption, fail, print_json

if TYPE_CHECKING:
    from sync_pipelines.catalog.tokens import ApiToken

token_app = typer.Typer(
    help="Manage API tokens (x-chroma-token). Admin commands: run them on the server, they "
    "work on its catalog directly (--home / CHROMA_SYNC_HOME, or CHROMA_SYNC_CATALOG_URL), not "
    "over HTTP.",
    no_args_is_help=True,
)

#: What the README says of revocation (an API process caches a valid token for a while).
REVOCATION_DELAY = (
    "an API process caches a valid token for CHROMA_SYNC_API_TOKEN_CACHE_S (2 s), so a revoked "
    "token may work for up to 2 s more"
)


def token_json(token: "ApiToken") -> dict[str, Any]:
    """A token as JSON: id, database, role, label, dates and whether it is active (no secret)."""
    return {
        **token.model_dump(mode="json"),
        "role": "admin" if token.admin else "member",
        "active": token.active,
    }


@token_app.command("create")
def token_create(
    database: Annotated[str, typer.Option(help="The only database the token can see.")],
    admin: Annotated[bool, typer.Option(help="Also allow creating and deleting sources.")] = False,
    label: Annotated[str | None, typer.Option(help="A note shown by `token list`.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the token and its secret as one JSON object.")
    ] = False,
) -> None:
    """Create an API token; its secret is printed once and stored only as a hash."""
    from sync_pipelines.catalog import Catalog
    from sync_pipelines.schemas.common import check_database_name

    try:
        check_database_name(database)
    except ValueError as exc:
        raise fail(f"--database {database!r}: {exc}") from None
    ensure_home()
    catalog = Catalog()
    try:
        token, secret = catalog.create_token(database, admin=admin, label=label)
    finally:
        catalog.close()
    if as_json:
        print_json({**token_json(token), "secret": secret})
        return
    role = "admin" if token.admin else "member"
    typer.echo(f"token {token.id} for database {token.database_name!r} ({role})", err=True)
    typer.echo("secret (shown once, store it now):", err=True)
    typer.echo(secret)


@token_app.command("list")
def token_list(
    database: Annotated[str | None, typer.Option(help="Only this database's tokens.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List API tokens (never their secrets); a home without a catalog is an error."""
    from sync_pipelines.catalog import Catalog

    require_catalog()
    catalog = Catalog()
    try:
        tokens = catalog.list_tokens(database)
    finally:
        catalog.close()
    if as_json:
        print_json([token_json(token) for token in tokens])
        return
    typer.echo("id\tdatabase\trole\tcreated_at\tstatus\tlabel")
    for token in tokens:
        state = "active" if token.active else f"revoked {token.revoked_at:%Y-%m-%dT%H:%M:%SZ}"
        role = "admin" if token.admin else "member"
        created = f"{token.created_at:%Y-%m-%dT%H:%M:%SZ}"
        typer.echo(
            f"{token.id}\t{token.database_name}\t{role}\t{created}\t{state}\t{token.label or ''}"
        )


@token_app.command(
    "revoke",
    help=f"Revoke an API token: it stops authenticating, though {REVOCATION_DELAY}.",
)
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Id from `token list`.")],
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"id": N, "revoked": true} instead.')
    ] = False,
) -> None:
    """Revoke an API token (the command's help says when it takes effect)."""
    from sync_pipelines.catalog import Catalog

    require_catalog()
    catalog = Catalog()
    try:
        revoked = catalog.revoke_token(token_id)
    finally:
        catalog.close()
    if not revoked:
        raise fail(f"no active token {token_id}")
    if as_json:
        print_json({"id": token_id, "revoked": True})
        return
    typer.echo(f"token {token_id} revoked (it may authenticate for up to 2 s more)")
