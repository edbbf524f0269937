"""When a keyless S3 source may use the server's own AWS credentials (no Dagster import)."""


def server_credentials_refusal(
    database_name: str, endpoint_url: str | None, granted: list[str]
) -> str | None:
    """Say why a keyless S3 source may not use the server's credentials (None: it may).

    Args:
        database_name: The source's database.
        endpoint_url: The source's own endpoint, if any.
        granted: Databases granted the server's credentials (``"*"``: all).
    """
    own_keys = "aws_credential_id or aws_access_key_id/aws_secret_access_key"
    if endpoint_url is not None:
        return (
            f"a source with its own endpoint_url needs its own credentials ({own_keys}); "
            "the server's are never sent to another endpoint"
        )
    if "*" not in granted and database_name not in granted:
        return (
            f"database {database_name!r} may not use the server's AWS credentials; give the "
            f"source its own ({own_keys}), or the operator may grant them with "
            "CHROMA_SYNC_S3_SERVER_CREDENTIALS_DATABASES"
        )
    return None
