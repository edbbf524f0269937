"""One process per embedded Chroma store: a lock in the store folder, and its owner's address.

Chroma's embedded client (``PersistentClient``) is made for one process: two processes writing
one folder corrupt its HNSW index. Every chroma-sync process that opens a store folder first
takes an exclusive ``flock`` on ``<store>/chroma-sync.lock`` and keeps it for its lifetime.
``chroma-sync serve`` runs Chroma's own server on the store through :func:`exec_server`, which
takes the lock, records the server's address in ``<store>/chroma-sync-server.json`` and then
*becomes* ``chroma run`` (the lock survives ``exec``), so the lock is held exactly as long as
the server lives. Any other process that finds the store owned by a live server talks to that
server over HTTP instead (:func:`open_store`); one that finds it owned by anything else is
refused with :class:`ChromaStoreBusy`.
"""

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sync_pipelines.core.run_liveness import process_alive

LOCK_FILE = "chroma-sync.lock"
OWNER_FILE = "chroma-sync-server.json"

_lock = threading.Lock()
_held: dict[Path, int] = {}


class ChromaStoreBusy(Exception):
    """The store folder is open in another process that is not a Chroma server."""


@dataclass(frozen=True)
class StoreServer:
    """The Chroma server that owns a store folder."""

    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{self.host}:{self.port}"


def _try_lock(path: Path) -> int | None:
    """Open and lock ``path``'s lock file; the descriptor, or None when another process holds it."""
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def read_owner(path: Path) -> StoreServer | None:
    """The server recorded in ``path``'s owner file, or None when absent or unreadable."""
    try:
        data = json.loads((path / OWNER_FILE).read_text())
        return StoreServer(host=str(data["host"]), port=int(data["port"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def open_store(path: Path) -> StoreServer | None:
    """Claim ``path`` for this process, or name the live Chroma server that owns it.

    Returns:
        None when this process now holds (or already held) the store and may open it
        embedded; the owning server when a ``chroma-sync`` Chroma server holds it.

    Raises:
        ChromaStoreBusy: Another process that is not a Chroma server holds it.
    """
    path = path.expanduser().resolve()
    with _lock:
        if path in _held:
            return None
        fd = _try_lock(path)
        if fd is not None:
            _held[path] = fd
            with contextlib.suppress(FileNotFoundError):
                (path / OWNER_FILE).unlink()
            return None
    owner = read_owner(path)
    if owner is not None and process_alive(owner.pid, started_by=time.time()):
        return owner
    raise ChromaStoreBusy(
        f"Chroma store {path} is open in another process; an embedded Chroma store serves one "
        "process only. Run `chroma-sync serve` (it runs a Chroma server on the store), or point "
        "every process at a Chroma server with CHROMA_SYNC_CHROMA_MODE=http"
    )


def exec_server(path: Path, host: str, port: int) -> None:
    """Lock ``path``, record this process as its server, then replace it with ``chroma run``.

    Raises:
        ChromaStoreBusy: The store is already held by another process.
    """
    path = path.expanduser().resolve()
    fd = _try_lock(path)
    if fd is None:
        owner = read_owner(path)
        holder = f"Chroma server pid {owner.pid} ({owner.url})" if owner else "another process"
        raise ChromaStoreBusy(f"Chroma store {path} is already open in {holder}")
    os.set_inheritable(fd, True)
    record = path / OWNER_FILE
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps({"v": 1, "pid": os.getpid(), "host": host, "port": port}))
    tmp.replace(record)
    chroma = str(Path(sys.executable).parent / "chroma")
    args = [chroma, "run", "--path", str(path), "--host", host, "--port", str(port)]
    os.execv(chroma, args)


def server_command(path: Path, host: str, port: int) -> list[str]:
    """The command that runs the locked Chroma server on ``path`` (see :func:`exec_server`)."""
    return [sys.executable, "-m", "sync_pipelines.chroma_store", str(path), host, str(port)]


def server_env(host: str, port: int) -> dict[str, str]:
    """``CHROMA_SYNC_*`` settings that point a process at the Chroma server on ``host:port``."""
    return {
        "CHROMA_SYNC_CHROMA_MODE": "http",
        "CHROMA_SYNC_CHROMA_HOST": host,
        "CHROMA_SYNC_CHROMA_PORT": str(port),
        "CHROMA_SYNC_CHROMA_SSL": "false",
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m sync_pipelines.chroma_store PATH HOST PORT``: the locked Chroma server."""
    path, host, port = argv if argv is not None else sys.argv[1:]
    try:
        exec_server(Path(path), host, int(port))
    except ChromaStoreBusy as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main())
