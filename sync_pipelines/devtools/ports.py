"""Free TCP ports on 127.0.0.1 for the local servers (code server, git, S3, web, API).

SeaweedFS binds a gRPC twin of each of its ports at +10000, so S3 ports come from
:func:`free_port_block`, which checks both.
"""

import random
import socket

#: SeaweedFS serves gRPC on each HTTP port + 10000.
GRPC_OFFSET = 10000


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int) -> list[int]:
    """Return ``count`` distinct free ports whose gRPC twins (+10000) are free too.

    The search starts at a random port, so separate calls rarely hand out the same one; ask
    for every port a setup needs in one call.
    """
    ports: list[int] = []
    candidate = random.randrange(20000, 50000)
    while len(ports) < count:
        candidate = 20000 + (candidate - 20000 + 1) % 30000
        if candidate + GRPC_OFFSET > 65535:
            continue
        if port_free(candidate) and port_free(candidate + GRPC_OFFSET):
            ports.append(candidate)
    return ports
