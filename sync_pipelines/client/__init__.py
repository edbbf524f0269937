"""The command-line client of a chroma-sync server: typed HTTP client and typer commands."""

from sync_pipelines.client.http import ApiError, ClientError, ServerUnreachableError, SyncClient

__all__ = ["ApiError", "ClientError", "ServerUnreachableError", "SyncClient"]
