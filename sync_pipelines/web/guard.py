"""An SSRF-safe ``requests`` session for the crawler (the policy is ``sync_pipelines.outbound``).

Only addresses the outbound policy permits are connected to; see
:mod:`sync_pipelines.outbound.policy` for what is refused and how the operator allows more.
"""

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from sync_pipelines.outbound.policy import (
    AddressPolicy,
    BlockedAddressError,
    address_kind,
)
from sync_pipelines.outbound.urllib3_guard import guarded_pool_classes

__all__ = [
    "AddressPolicy",
    "BlockedAddressError",
    "GuardedAdapter",
    "address_kind",
    "guarded_session",
]


class GuardedAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections enforce an :class:`AddressPolicy`.

    Args:
        policy: The address policy every connection is checked against.
        pool_maxsize: Connections kept per host (set it to the crawl's concurrency).
    """

    def __init__(self, policy: AddressPolicy, pool_maxsize: int = 10) -> None:
        self._pool_classes = guarded_pool_classes(policy, HTTPConnectionPool, HTTPSConnectionPool)
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


def guarded_session(
    policy: AddressPolicy, user_agent: str, pool_maxsize: int = 10
) -> requests.Session:
    """Return a ``requests`` session that only connects where ``policy`` permits.

    The session ignores proxy/netrc settings from the environment (``trust_env=False``) and
    sends ``user_agent``.
    """
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = user_agent
    adapter = GuardedAdapter(policy, pool_maxsize=pool_maxsize)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
