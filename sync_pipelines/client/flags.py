"""API error messages in the words of the command line: body fields become the flags that set them.

The API names the JSON field (``object_key: is required``); a user of ``chroma-sync invoke``
typed ``--object-key``, so that is what the error shows.
"""

from collections.abc import Mapping

INVOKE_FLAGS: Mapping[str, str] = {
    "object_key": "--object-key",
    "collection_name": "--collection",
    "metadata": "--metadata",
    "custom_id": "--custom-id",
    "git_ref_identifier": "--branch/--sha",
    "git_ref_identifier.branch": "--branch",
    "git_ref_identifier.sha": "--sha",
}
"""Create-invocation body fields and the ``invoke`` flags that set them."""

SOURCE_FLAGS: Mapping[str, str] = {
    "database_name": "--database",
    "github.repository": "--github",
    "github.include_globs": "--include",
    "github.exclude_globs": "--exclude",
    "web_scrape.starting_url": "--web",
    "web_scrape.max_depth": "--max-depth",
    "web_scrape.page_limit": "--page-limit",
    "web_scrape.include_path_regexes": "--include",
    "web_scrape.exclude_path_regexes": "--exclude",
    "s3.bucket_name": "--s3-bucket",
    "s3.region": "--region",
    "s3.collection_name": "--collection",
    "s3.path_prefix": "--prefix",
    "s3.auto_sync": "--auto-sync",
    "s3.endpoint_url": "--endpoint-url",
    "s3.aws_access_key_id": "--aws-access-key-id",
    "s3.aws_secret_access_key": "--aws-secret-access-key",
    "s3.aws_credential_id": "--aws-credential-id",
    "chunking": "--chunking",
}
"""Create-source body fields and the ``sources create`` flags that set them."""


def in_flags(message: str, flags: Mapping[str, str]) -> str:
    """Rewrite ``"<field>: <problem>"`` parts (joined by ``"; "``) to name flags instead.

    A field without a flag keeps its API name; so does the rest of the message.
    """
    parts = []
    for part in message.split("; "):
        field, sep, problem = part.partition(": ")
        flag = flags.get(field) or flags.get(field.split(".", 1)[0] if "." in field else "")
        parts.append(f"{flag}: {problem}" if sep and flag else part)
    return "; ".join(parts)
