"""The outbound policy applied to a boto3 S3 client's connections.

botocore sends requests through its own urllib3 pool manager, whose pool classes
(``AWSHTTPConnectionPool``) decide how sockets are opened. :func:`guard_client` swaps them for
subclasses that resolve, check and connect to permitted addresses only, so a refused endpoint
(or a bucket host name that resolves somewhere refused) gets no connection, and no signed
request, at all.
"""

from typing import Any

from botocore.awsrequest import AWSHTTPConnectionPool, AWSHTTPSConnectionPool

from sync_pipelines.outbound.policy import AddressPolicy, BlockedAddressError
from sync_pipelines.outbound.urllib3_guard import guarded_pool_classes


def guard_client(client: Any, policy: AddressPolicy) -> None:
    """Bind every connection ``client`` opens (direct or through a proxy) to ``policy``.

    Args:
        client: A boto3 client that has not sent a request yet.
        policy: The outbound address policy.

    Raises:
        TypeError: botocore's HTTP session no longer has the attributes this relies on.
    """
    session = client._endpoint.http_session
    if not hasattr(session, "_manager") or not hasattr(session, "_pool_classes_by_scheme"):
        raise TypeError("unsupported botocore HTTP session: cannot apply the outbound policy")
    classes = guarded_pool_classes(policy, AWSHTTPConnectionPool, AWSHTTPSConnectionPool)
    session._pool_classes_by_scheme = classes
    session._manager.pool_classes_by_scheme = classes
    for manager in getattr(session, "_proxy_managers", {}).values():
        manager.pool_classes_by_scheme = classes


def refusal_in(exc: BaseException) -> BlockedAddressError | None:
    """Return the policy refusal behind a boto3 error (botocore wraps it), if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BlockedAddressError):
            return current
        wrapped = getattr(current, "kwargs", {}).get("error")
        if isinstance(wrapped, BlockedAddressError):
            return wrapped
        current = current.__cause__ or current.__context__
    return None
