"""One process per embedded Chroma store.

Contract: a process that opens a store folder holds its lock for its lifetime (re-opening in
the same process is fine); another chroma-sync process is refused with a clear error instead
of opening the folder; when the store's owner is the locked Chroma server, persistent-mode
clients talk to that server; a stock chromadb client still queries what was written.
"""

import subprocess
import sys
from pathlib import Path

import chromadb
import pytest

from sync_pipelines.chroma_store import ChromaStoreBusy, open_store, read_owner
from sync_pipelines.devtools.chroma_server import ChromaServer
from sync_pipelines.resources.chroma import ChromaResource, reset_client_cache

OPEN_IN_CHILD = """
import sys
from sync_pipelines.resources.chroma import ChromaResource
try:
    ChromaResource(mode="persistent", path=sys.argv[1]).get_client("db1").heartbeat()
except Exception as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
print("opened")
"""


def open_in_child(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPEN_IN_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_process_is_refused_while_the_first_holds_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ChromaResource(mode="persistent", path=str(store)).get_collection("db1", "docs").add(
        ids=["a"], documents=["alpha"], embeddings=[[0.1, 0.2]]
    )
    assert open_store(store) is None  # the same process may open it again
    child = open_in_child(store)
    assert child.returncode == 3, child.stdout + child.stderr
    assert child.stdout.startswith("ChromaStoreBusy")
    assert str(store.resolve()) in child.stdout and "chroma-sync serve" in child.stdout
    reset_client_cache()


def test_a_free_store_opens_in_a_child_process(tmp_path: Path) -> None:
    child = open_in_child(tmp_path / "free")
    assert child.returncode == 0, child.stdout + child.stderr
    assert child.stdout.strip() == "opened"
    # The child has exited and released the lock: this process may now take it.
    assert open_store(tmp_path / "free") is None


def test_a_store_owned_by_its_chroma_server_is_reached_over_http(tmp_path: Path) -> None:
    store = tmp_path / "served"
    with ChromaServer(store) as server:
        owner = read_owner(store)
        assert owner is not None and owner.port == server.port and owner.pid == server.proc.pid  # type: ignore[union-attr]
        assert open_store(store) == owner
        resource = ChromaResource(mode="persistent", path=str(store))
        resource.get_collection("db1", "docs").add(
            ids=["a"], documents=["alpha"], embeddings=[[0.1, 0.2]]
        )
        child = open_in_child(store)
        assert child.returncode == 0, child.stdout + child.stderr
        stock = chromadb.HttpClient(host="127.0.0.1", port=server.port, database="db1")
        assert stock.get_collection("docs").get()["documents"] == ["alpha"]
        with pytest.raises(RuntimeError, match="exited"):
            ChromaServer(store).start(timeout=30)  # a second server on the same store
    reset_client_cache()
    # The server is gone: its lock went with it, so the store is free again.
    assert open_store(store) is None
    assert read_owner(store) is None


def test_a_store_held_by_this_process_refuses_a_server(tmp_path: Path) -> None:
    store = tmp_path / "held"
    assert open_store(store) is None
    with pytest.raises(RuntimeError, match="exited"):
        ChromaServer(store).start(timeout=30)
    with pytest.raises(ChromaStoreBusy):
        from sync_pipelines.chroma_store import exec_server

        # Another open file description of the lock in this process is refused too.
        exec_server(store, "127.0.0.1", 1)
