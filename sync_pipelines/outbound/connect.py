"""A checked TCP connection for git's ``git://`` and ``ssh://`` transports.

git runs ``core.gitProxy`` (git://) and ssh runs ``ProxyCommand`` (ssh://) as
``<command> HOST PORT`` and talks to the remote through the command's stdin and stdout. This
command resolves the host, applies the outbound policy (its allow-list comes from
``CHROMA_SYNC_OUTBOUND_POLICY``, a JSON list set by chroma-sync), connects to a permitted address
only and relays bytes both ways. A refusal prints one line to stderr and exits 1 before any
connection attempt.

Run as ``python -m sync_pipelines.outbound.connect HOST PORT``.
"""

import json
import os
import selectors
import socket
import sys

from sync_pipelines.outbound.policy import AddressPolicy, BlockedAddressError

POLICY_ENV = "CHROMA_SYNC_OUTBOUND_POLICY"
CONNECT_TIMEOUT_S = 15.0


def open_checked(policy: AddressPolicy, host: str, port: int) -> socket.socket:
    """Connect to the first address of ``host`` the policy permits.

    Raises:
        BlockedAddressError: Every address is refused.
        OSError: The name does not resolve or no permitted address accepts the connection.
    """
    error: OSError | None = None
    for family, socktype, proto, _canon, sockaddr in policy.permitted_addresses(host, port):
        sock = socket.socket(family, socktype, proto)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sock.settimeout(None)
        return sock
    raise error or OSError(f"{host}: no address")


def relay(sock: socket.socket, stdin_fd: int, stdout_fd: int) -> None:
    """Copy bytes stdin → socket and socket → stdout until the socket closes."""
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(stdin_fd, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                data = sock.recv(65536)
                if not data:
                    return
                os.write(stdout_fd, data)
            else:
                data = os.read(stdin_fd, 65536)
                if not data:
                    selector.unregister(stdin_fd)
                    sock.shutdown(socket.SHUT_WR)
                else:
                    sock.sendall(data)


def main(argv: list[str]) -> int:
    """Connect to ``argv[0]:argv[1]`` under the policy and relay; return the exit status."""
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write("usage: python -m sync_pipelines.outbound.connect HOST PORT\n")
        return 2
    host, port = argv[0], int(argv[1])
    try:
        policy = AddressPolicy(json.loads(os.environ.get(POLICY_ENV, "[]")))
        sock = open_checked(policy, host, port)
    except BlockedAddressError as exc:
        sys.stderr.write(f"refused by the outbound policy: {exc.with_url(f'{host}:{port}')}" + "\n")
        return 1
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"cannot connect to {host}:{port}: {exc}\n")
        return 1
    with sock:
        relay(sock, sys.stdin.fileno(), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
