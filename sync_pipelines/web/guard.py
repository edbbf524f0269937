"""Address policy and an SSRF-safe ``requests`` session for the crawler.

The crawler may only reach public addresses unless the server's allow-list
(``CHROMA_SYNC_CRAWL_ALLOW_HOSTS``) names the host, address or network. Refused: loopback,
private (RFC 1918, ``fc00::/7``), link-local (``169.254.0.0/16`` with the cloud metadata
address, ``fe80::/10``), unspecified, multicast, reserved, shared/CGNAT (``100.64.0.0/10``) and
any other non-global address, also in IPv4-mapped IPv6 form (``localhost`` is refused by its
loopback addresses); cloud metadata names such as ``metadata.google.internal`` are refused
before they are even resolved.

The check runs where the socket is opened: :func:`guarded_session` mounts an adapter whose
connections resolve the host, keep only the permitted addresses and connect to exactly those
(so a DNS answer that changes between a check and the connect cannot slip through). TLS still
verifies the certificate and sends SNI for the URL's host name. A refusal raises
:class:`BlockedAddressError` before any connection attempt.
"""

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CGNAT = ipaddress.ip_network("100.64.0.0/10")
BLOCKED_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data"}
)
ALLOW_HINT = "allow it with CHROMA_SYNC_CRAWL_ALLOW_HOSTS"


class BlockedAddressError(Exception):
    """A request would reach an address the crawler's address policy refuses.

    Args:
        host: The host name or address of the request.
        kind: What the address is, e.g. ``loopback`` or ``private``.
        ip: The refused address (None when the name itself is refused).
        url: The URL (or origin) of the refused request.
    """

    def __init__(self, host: str, kind: str, ip: str | None = None, url: str = "") -> None:
        self.host, self.kind, self.ip, self.url = host, kind, ip, url
        target = host if ip is None or _same_ip(host, ip) else f"{host} resolves to {ip}"
        article = "an" if kind[:1] in "aeiou" else "a"
        what = f"{article} {kind} address" if ip is not None else f"{article} {kind} host name"
        super().__init__(f"{url or host}: {target}, {what}; {ALLOW_HINT}")

    def with_url(self, url: str) -> "BlockedAddressError":
        """Return the same refusal, naming ``url`` as the refused request."""
        return BlockedAddressError(self.host, self.kind, self.ip, url)


def _same_ip(host: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) == ipaddress.ip_address(ip)
    except ValueError:
        return False


def address_kind(ip: IPAddress) -> str | None:
    """Return why ``ip`` is refused by default (e.g. ``"loopback"``), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return address_kind(ip.ipv4_mapped)
    checks: list[tuple[bool, str]] = [
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local/metadata"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT, "shared (CGNAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-public"),
    ]
    return next((kind for hit, kind in checks if hit), None)


class AddressPolicy:
    """Which hosts and addresses the crawler may connect to.

    Args:
        allow: Host names, IP addresses or CIDR networks permitted although they are
            loopback/private/link-local/metadata (e.g. ``"127.0.0.1"``, ``"10.0.0.0/8"``,
            ``"intranet.local"``). A permitted name may resolve to any address.

    Raises:
        ValueError: An entry is empty.
    """

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.networks: list[IPNetwork] = []
        self.names: set[str] = set()
        for raw in allow:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                raise ValueError("crawl allow-list: empty entry")
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry.rstrip("."))

    def _ip_allowed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )

    def name_allowed(self, host: str) -> bool:
        """Tell whether the host name itself is on the allow-list."""
        return host.lower().strip("[]").rstrip(".") in self.names

    def check_name(self, host: str) -> None:
        """Refuse cloud metadata host names unless the allow-list names them.

        Raises:
            BlockedAddressError: The name is refused.
        """
        name = host.lower().strip("[]").rstrip(".")
        if self.name_allowed(name):
            return
        if name in BLOCKED_NAMES:
            raise BlockedAddressError(host, "metadata")

    def check_ip(self, host: str, ip: str) -> None:
        """Refuse ``ip`` (an address ``host`` resolved to) unless it is public or allowed.

        Raises:
            BlockedAddressError: The address is refused.
        """
        if self.name_allowed(host):
            return
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
        kind = address_kind(addr)
        if kind is not None and not self._ip_allowed(addr):
            raise BlockedAddressError(host, kind, str(addr))

    def permitted_addresses(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """Resolve ``host`` and return the ``getaddrinfo`` entries this policy permits.

        Raises:
            BlockedAddressError: The name is refused, or every address it resolves to is.
            socket.gaierror: The name does not resolve.
        """
        host = host.strip("[]")
        self.check_name(host)
        infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
        permitted, refusal = [], None
        for info in infos:
            try:
                self.check_ip(host, str(info[4][0]))
                permitted.append(info)
            except BlockedAddressError as exc:
                refusal = refusal or exc
        if not permitted and refusal is not None:
            raise refusal
        return permitted


class _GuardedMixin:
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


class GuardedAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections enforce an :class:`AddressPolicy`.

    Args:
        policy: The address policy every connection is checked against.
        pool_maxsize: Connections kept per host (set it to the crawl's concurrency).
    """

    def __init__(self, policy: AddressPolicy, pool_maxsize: int = 10) -> None:
        attrs = {"address_policy": policy}
        http_conn = type("GuardedHTTPConnection", (_GuardedMixin, HTTPConnection), attrs)
        https_conn = type("GuardedHTTPSConnection", (_GuardedMixin, HTTPSConnection), attrs)
        self._pool_classes = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type(
                "GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
            ),
        }
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
