"""S3 as a Dagster resource: ``dagster_aws``'s ``S3Resource`` with clients built once.

Building a boto3 client costs ~0.2 s (it loads the service model and walks the credential
chain), more than a small object's whole sync, and clients are thread-safe; so clients are
cached per configuration and shared by every run in the process. Sources override the endpoint,
region and credentials of the server-wide configuration.

The server's own credentials (its configured keys, profile, or boto3's default chain) serve only
sources without an ``endpoint_url`` and only in databases the operator grants them to
(``server_credentials_databases``); a source with its own endpoint must bring its own keys, and
its client connects only where the outbound policy permits (``sync_pipelines.outbound``).
"""

import threading
from typing import TYPE_CHECKING, Any

from dagster_aws.s3 import S3Resource
from pydantic import Field

from sync_pipelines.outbound.policy import AddressPolicy
from sync_pipelines.outbound.s3_guard import guard_client
from sync_pipelines.outbound.server_credentials import server_credentials_refusal

if TYPE_CHECKING:
    from sync_pipelines.catalog import Catalog
    from sync_pipelines.schemas import Source

_lock = threading.Lock()
_clients: dict[tuple[tuple[str, str], ...], Any] = {}
_OWN_FIELDS = {"allow_hosts", "server_credentials_databases"}
_SERVER_CREDENTIALS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


class S3AccessRefused(ValueError):
    """A source may not use the credentials it would need (the message is safe to show)."""


class SyncS3Resource(S3Resource):
    """``S3Resource`` whose clients are cached; ``client_for`` applies per-source settings."""

    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Outbound allow-list for sources' own endpoint_url (CIDR, hosts, addresses).",
    )
    server_credentials_databases: list[str] = Field(
        default_factory=list,
        description="Databases whose keyless sources may use the server's credentials ('*': all).",
    )

    def client_for(self, *, guarded: bool = False, **overrides: Any) -> Any:
        """Return a cached client for this configuration with ``overrides`` applied.

        Args:
            **overrides: ``S3Resource`` fields to override (``endpoint_url``, ``region_name``,
                ``aws_access_key_id``, ``aws_secret_access_key``, ...); ``None`` values are
                ignored.
            guarded: Bind the client's connections to the outbound policy (for endpoints a
                user supplied).

        Returns:
            A boto3 S3 client.
        """
        fields = {
            **self.model_dump(exclude_none=True, exclude=_OWN_FIELDS),
            **{k: v for k, v in overrides.items() if v is not None},
        }
        key = tuple(sorted((name, repr(value)) for name, value in fields.items()))
        if guarded:
            key += (("guarded", repr(sorted(self.allow_hosts))),)
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = S3Resource(**fields).get_client()
                if guarded:
                    guard_client(client, AddressPolicy(self.allow_hosts))
                _clients[key] = client
            return client

    def client_for_source(self, catalog: "Catalog", source: "Source", **overrides: Any) -> Any:
        """A cached client with an S3 source's region, endpoint and stored credential.

        Args:
            catalog: The catalog holding the source's credential.
            source: An S3 source.
            **overrides: Further ``S3Resource`` fields (e.g. ``max_attempts``).

        Raises:
            ValueError: ``source`` is not an S3 source.
            S3AccessRefused: The source has no credential of its own database and may not use
                the server's.
        """
        config = source.s3
        if config is None:
            raise ValueError(f"source {source.id} is not an S3 source")
        if config.aws_credential_id is None:
            self.check_server_credentials(source.database_name, config.endpoint_url)
            return self.client_for(region_name=config.region, **overrides)
        own = {c.id for c in catalog.list_credentials(source.database_name)}
        secret = (
            catalog.get_aws_secret(config.aws_credential_id)
            if config.aws_credential_id in own
            else None
        )
        if secret is None:
            raise S3AccessRefused(
                f"s3.aws_credential_id: no AWS credential {config.aws_credential_id} in "
                f"database {source.database_name!r}"
            )
        server_free = {k: None for k in _SERVER_CREDENTIALS} | {"profile_name": None}
        return self._own_credentials_client(server_free).client_for(
            guarded=config.endpoint_url is not None,
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            aws_access_key_id=secret.access_key_id,
            aws_secret_access_key=secret.secret_access_key,
            **overrides,
        )

    def check_server_credentials(self, database_name: str, endpoint_url: str | None) -> None:
        """Refuse a keyless source the server's own credentials may not serve.

        Raises:
            S3AccessRefused: The source has its own endpoint, or its database is not granted.
        """
        reason = server_credentials_refusal(
            database_name, endpoint_url, self.server_credentials_databases
        )
        if reason is not None:
            raise S3AccessRefused(f"s3.aws_credential_id: {reason}")

    def _own_credentials_client(self, cleared: dict[str, None]) -> "SyncS3Resource":
        """This resource without the server's credentials (a source brings its own)."""
        return self.model_copy(update=cleared)

    def get_object_to_set_on_execution_context(self) -> Any:
        """The client ``context.resources.s3`` gives legacy code (cached, not rebuilt per run)."""
        return self.client_for()
