"""urllib3 connections that enforce an :class:`AddressPolicy` where the socket is opened.

The connection resolves the host, keeps only the permitted addresses and connects to exactly
those. TLS still verifies the certificate and sends SNI for the URL's host name. A refusal
raises :class:`BlockedAddressError` before any connection attempt. Used by the crawler's
``requests`` session and by boto3 clients of S3 sources with their own ``endpoint_url``.
"""

import socket
from typing import Any

from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from sync_pipelines.outbound.policy import AddressPolicy, BlockedAddressError


class GuardedMixin:
    """Replaces urllib3's ``_new_conn``: resolve, check, connect to the checked address."""

    address_policy: AddressPolicy
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            infos = self.address_policy.permitted_addresses(self.host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        except BlockedAddressError as exc:
            scheme = "https" if isinstance(self, HTTPSConnection) else "http"
            raise exc.with_url(f"{scheme}://{self.host}:{self.port}") from None
        error: OSError | None = None
        for family, socktype, proto, _canon, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                for opt in self.socket_options or ():
                    sock.setsockopt(*opt)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out (timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                sock.close()
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")  # type: ignore[arg-type]


def guarded_pool_classes(
    policy: AddressPolicy,
    http_pool: type[HTTPConnectionPool],
    https_pool: type[HTTPConnectionPool],
) -> dict[str, type[HTTPConnectionPool]]:
    """Return ``pool_classes_by_scheme`` whose connections enforce ``policy``.

    Args:
        policy: The address policy every connection is checked against.
        http_pool: The pool class to extend for http (its ``ConnectionCls`` is kept as base).
        https_pool: The same for https.
    """
    classes: dict[str, type[HTTPConnectionPool]] = {}
    for scheme, pool in (("http", http_pool), ("https", https_pool)):
        conn = type(
            f"Guarded{pool.ConnectionCls.__name__}",
            (GuardedMixin, pool.ConnectionCls),
            {"address_policy": policy},
        )
        classes[scheme] = type(f"Guarded{pool.__name__}", (pool,), {"ConnectionCls": conn})
    return classes
