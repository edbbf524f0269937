"""Network namespaces for Celery workers: each worker its own network stack, as on its own host.

Each namespace gets a veth pair to the host: the host side has ``10.N.i.1/24``, the namespace
side ``10.N.i.2/24`` with its default route to the host. Every namespace reaches the first
link's host address (the "service address"; the host accepts packets for any of its own
addresses), where :mod:`tests.test_deploy.relay` forwards each service port to 127.0.0.1. A
worker inside sees its own loopback only: nothing on the host's 127.0.0.1 is reachable except
through the relay.

Needs root and ``ip`` (iproute2); :func:`worker_namespaces` yields ``None`` when the machine
does not allow making one, and the test then runs its workers as plain processes.
"""

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Namespaces:
    """Namespaces made for the workers and the host address they all reach."""

    names: list[str]
    service_host: str
    network: str

    def prefix(self, index: int) -> list[str]:
        """The command prefix that runs a program in namespace ``index``."""
        return ["ip", "netns", "exec", self.names[index]]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _free_octet() -> int:
    used = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    for _ in range(50):
        octet = random.randint(100, 250)
        if f" 10.{octet}." not in used:
            return octet
    raise RuntimeError("no free 10.N.0.0/16 network for the test namespaces")


def _link(octet: int, index: int) -> str:
    name = f"csw{octet}-{index}"
    host_if, ns_if = f"cs{octet}h{index}", f"cs{octet}n{index}"
    _ip("netns", "add", name)
    _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
    _ip("link", "set", ns_if, "netns", name)
    _ip("addr", "add", f"10.{octet}.{index}.1/24", "dev", host_if)
    _ip("link", "set", host_if, "up")
    _ip("-n", name, "addr", "add", f"10.{octet}.{index}.2/24", "dev", ns_if)
    _ip("-n", name, "link", "set", ns_if, "up")
    _ip("-n", name, "link", "set", "lo", "up")
    _ip("-n", name, "route", "add", "default", "via", f"10.{octet}.{index}.1")
    return name


@contextmanager
def worker_namespaces(count: int) -> Iterator[Namespaces | None]:
    """Make ``count`` linked namespaces (deleted afterwards); ``None`` where that is refused."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        yield None
        return
    names: list[str] = []
    made: Namespaces | None = None
    try:
        octet = _free_octet()
        for index in range(1, count + 1):
            names.append(f"csw{octet}-{index}")
            _link(octet, index)
        made = Namespaces(names, f"10.{octet}.1.1", f"10.{octet}.0.0/16")
    except (subprocess.SubprocessError, OSError, RuntimeError):
        made = None
    try:
        yield made
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def net_namespace(pid: int) -> str:
    """The network namespace of process ``pid`` (``net:[inode]``)."""
    return os.readlink(f"/proc/{pid}/ns/net")
