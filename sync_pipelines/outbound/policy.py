"""The outbound address policy: which hosts and addresses user-supplied URLs may reach.

One policy serves every URL a user supplies: web starting URLs (and every link the crawler
follows), git ``base_url`` (http, https, git, ssh) and S3 ``endpoint_url``. Only public addresses
are reachable unless the operator's allow-list (``CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS``, or the older
``CHROMA_SYNC_CRAWL_ALLOW_HOSTS``) names the host, address or network. Refused: loopback, private
(RFC 1918, ``fc00::/7``), link-local (``169.254.0.0/16`` with the cloud metadata address,
``fe80::/10``), unspecified, multicast, reserved, shared/CGNAT (``100.64.0.0/10``) and any other
non-global address, also in IPv4-mapped IPv6 form (``localhost`` is refused by its loopback
addresses); cloud metadata names such as ``metadata.google.internal`` are refused before they
are even resolved.

The policy is applied where the socket is opened (see ``urllib3_guard`` and ``connect``), so a
DNS answer that changes between a check and the connect cannot slip through.
"""

import ipaddress
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync_pipelines.settings import Settings

# IPv4 and IPv6 when the host has IPv6 (urllib3's rule), without importing urllib3: the git
# proxy command (``connect``) starts once per connection and must start fast.
_FAMILY = socket.AF_UNSPEC if socket.has_ipv6 else socket.AF_INET
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CGNAT = ipaddress.ip_network("100.64.0.0/10")
BLOCKED_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data"}
)
ALLOW_HINT = "allow it with CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS"


class BlockedAddressError(Exception):
    """A connection would reach an address the outbound address policy refuses.

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
    """Which hosts and addresses user-supplied URLs may connect to.

    Args:
        allow: Host names, IP addresses or CIDR networks permitted although they are
            loopback/private/link-local/metadata (e.g. ``"127.0.0.1"``, ``"10.0.0.0/8"``,
            ``"intranet.local"``). A permitted name may resolve to any address.

    Raises:
        ValueError: An entry is empty.
    """

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow = tuple(allow)
        self.networks: list[IPNetwork] = []
        self.names: set[str] = set()
        for raw in self.allow:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                raise ValueError("outbound allow-list: empty entry")
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
        infos = socket.getaddrinfo(host, port, _FAMILY, socket.SOCK_STREAM)
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


def outbound_policy(settings: "Settings") -> AddressPolicy:
    """Return the policy the server's allow-lists describe (outbound plus the older crawl list)."""
    return AddressPolicy(settings.outbound_allow)
