"""Create-source rules for what a source may reach: addresses, local paths and credentials.

Every URL in the body is checked against the outbound policy (``sync_pipelines.outbound``);
server-wide credentials are refused to sources that would carry them elsewhere. Each refusal is
a :class:`BadRequestError` naming the field. The same rules run again when a run connects.
"""

from api_bridge.errors import BadRequestError
from sync_pipelines.outbound.checks import (
    OutboundRefused,
    check_git_url,
    check_http_url,
    same_https_host,
)
from sync_pipelines.outbound.policy import outbound_policy
from sync_pipelines.outbound.server_credentials import server_credentials_refusal
from sync_pipelines.schemas import CreateSourcePayload
from sync_pipelines.settings import Settings


def check_source_reach(payload: CreateSourcePayload, settings: Settings) -> None:
    """Refuse URLs outside the outbound policy and server credentials used out of bounds.

    Raises:
        BadRequestError: A starting URL, git ``base_url`` or S3 ``endpoint_url`` is refused, a
            ``file://`` repository is outside the operator's local roots, a GitHub App would
            send its token to another host, or a keyless S3 source may not use the server's
            AWS credentials.
    """
    policy = outbound_policy(settings)
    try:
        if payload.web_scrape is not None:
            check_http_url(policy, payload.web_scrape.starting_url, "web_scrape.starting_url")
        github = payload.github
        if github is not None and github.base_url is not None:
            check_git_url(
                policy,
                settings.git_local_roots,
                github.base_url,
                github.repository,
                "github.base_url",
            )
            if github.app_id is not None and not same_https_host(
                github.base_url, settings.github_base_url
            ):
                raise OutboundRefused(
                    "github.app_id",
                    f"GitHub App tokens are sent only to {settings.github_base_url} over https; "
                    "use a token of the source's own for another host",
                )
        s3 = payload.s3
        if s3 is not None and s3.endpoint_url is not None:
            check_http_url(policy, s3.endpoint_url, "s3.endpoint_url")
    except OutboundRefused as exc:
        raise BadRequestError(exc.field, exc.reason) from None
    if s3 is not None and s3.aws_credential_id is None and s3.aws_access_key_id is None:
        reason = server_credentials_refusal(
            payload.database_name, s3.endpoint_url, settings.s3_server_credentials_databases
        )
        if reason is not None:
            raise BadRequestError("s3.aws_credential_id", reason)
