"""``chroma-sync serve --host 0.0.0.0`` as a real process: the Dagster UI stays on loopback.

Contract: the API listens on every address, the Dagster webserver (no authentication) only on
127.0.0.1, as the kernel's socket table shows, and serve says so in one line at start.
"""

import ipaddress
import queue
import subprocess
import threading
import time
from pathlib import Path

from tests.test_deploy.serve_helpers import CHROMA_SYNC, Serve

START_TIMEOUT_S = 60


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port`` (from ``/proc/net``)."""
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(ordered)))
    return found


def test_serve_binds_the_api_publicly_and_the_ui_on_loopback(tmp_path: Path) -> None:
    server = Serve(tmp_path / "home")
    args = [CHROMA_SYNC, "serve", "--home", str(server.home), "--host", "0.0.0.0"]
    args += ["--api-port", str(server.api_port), "--dagster-port", str(server.dagster_port)]
    args += ["--chroma-port", str(server.chroma_port)]
    server.proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=server.env
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=server._pump, args=(server.proc.stdout, lines), daemon=True).start()
    threading.Thread(target=server._pump, args=(server.proc.stderr, None), daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        api: set[str] = set()
        ui: set[str] = set()
        while not (api and ui):
            assert server.proc.poll() is None, f"serve exited: {server.stderr}"
            assert time.monotonic() < deadline, f"not listening: API {api}, UI {ui}"
            time.sleep(0.5)
            api = listening_addresses(server.api_port)
            ui = listening_addresses(server.dagster_port)
        assert api == {"0.0.0.0"}
        assert ui == {"127.0.0.1"}
        note = lines.get(timeout=5)
        assert note.startswith("note: the API listens on 0.0.0.0 but the Dagster UI stays on ")
        assert "no authentication" in note
    finally:
        server.stop()
    assert server.proc.returncode == 0, server.stderr
