"""Helpers of ``chroma-sync serve``: options, ports, process groups and the gRPC workspace."""

import ipaddress
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

_WILDCARDS = ("0.0.0.0", "::", "")

GRPC_WORKSPACE_YAML = """\
load_from:
  - grpc_server:
      host: 127.0.0.1
      port: {port}
      location_name: {location}
"""


_LOCATIONS_QUERY = """
query { workspaceOrError { __typename ... on Workspace { locationEntries {
  locationOrLoadError { __typename } } } } }
"""


class ServeError(Exception):
    """``serve`` cannot go on: a port is taken, a child failed, or it never became healthy."""


@dataclass(frozen=True)
class ServeOptions:
    """What ``chroma-sync serve`` starts and where."""

    home: Path
    host: str = "127.0.0.1"
    #: Address of the Dagster webserver, which has no authentication.
    ui_host: str = "127.0.0.1"
    api_port: int = 8080
    dagster_port: int = 3000
    with_s3: bool = False
    s3_port: int = 8333
    ready_timeout_s: float = 120.0
    #: Port of the Chroma server run on the home's store; None runs none (Chroma elsewhere).
    chroma_port: int | None = 8000
    chroma_path: Path | None = None


def connect_host(host: str) -> str:
    """The URL host clients use to reach a server bound to ``host`` (IPv6 in brackets)."""
    if host in _WILDCARDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) reaches only this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listening_on(host: str) -> str:
    """`` (listening on HOST)`` when clients connect to another address than ``host``."""
    return f" (listening on {host})" if connect_host(host).strip("[]") != host else ""


def private_ui_note(options: ServeOptions) -> str | None:
    """The line saying the Dagster UI stays on loopback while the API does not, if so."""
    if is_loopback(options.host) or not is_loopback(options.ui_host):
        return None
    return (
        f"note: the API listens on {options.host} but the Dagster UI stays on "
        f"{options.ui_host}: it has no authentication (--ui-host changes it; see docs/deploy.md)"
    )


def check_port_free(host: str, port: int, option: str) -> None:
    """Raise :class:`ServeError` naming ``port`` and ``option`` when ``port`` is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # As the servers do, so that connections lingering in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServeError(
                f"port {port} ({option}) is already in use on {host}: {exc.strerror}"
            ) from exc


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_group(pgid: int, timeout: float = 5.0) -> None:
    """Make sure nothing is left in process group ``pgid`` (SIGTERM, then SIGKILL)."""
    if not _group_alive(pgid):
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


def code_location(workspace: Path) -> tuple[str, str]:
    """The module and location name of the project's ``workspace.yaml`` (its first entry).

    Raises:
        ServeError: The file is missing or has no ``python_module`` entry.
    """
    try:
        entry = yaml.safe_load(workspace.read_text())["load_from"][0]["python_module"]
        return str(entry["module_name"]), str(entry["location_name"])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError) as exc:
        raise ServeError(f"{workspace}: no python_module code location ({exc})") from exc


def write_grpc_workspace(path: Path, location: str, port: int) -> Path:
    """Write a workspace file that loads ``location`` from the code server on ``port``."""
    path.write_text(GRPC_WORKSPACE_YAML.format(port=port, location=location))
    return path


def code_location_loaded(webserver_url: str) -> bool:
    """Whether the Dagster webserver answers and has every code location loaded without error."""
    try:
        response = requests.post(
            f"{webserver_url}/graphql", json={"query": _LOCATIONS_QUERY}, timeout=2
        )
        workspace = response.json()["data"]["workspaceOrError"]
        entries = workspace["locationEntries"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    return bool(entries) and all(
        (entry.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation"
        for entry in entries
    )
