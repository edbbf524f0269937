"""Run a real Dagster instance for chroma-sync: instance config, daemon and webserver processes.

Used by the tests, the benchmarks and (later) ``chroma-sync serve``. The instance queues runs
with a 1 s dequeue interval; jobs run their ops in process, so an invocation reaches
``processing`` a few seconds after it is accepted.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from sync_pipelines.devtools.local_s3 import _free_port_block, stop_process_group

PROJECT_ROOT = Path(__file__).resolve().parents[2]

DAGSTER_YAML = """\
storage:
  sqlite:
    base_dir: {storage}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
telemetry:
  enabled: false
nux:
  enabled: false
"""


def write_instance_config(dagster_home: Path) -> Path:
    """Write ``dagster.yaml`` into ``dagster_home`` unless one exists; return the folder."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML.format(storage=dagster_home / "storage"))
    return dagster_home


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _reset_sigint() -> None:
    # Background jobs of non-interactive shells start with SIGINT ignored, and Dagster maps
    # SIGTERM onto the SIGINT handler: restore the default so SIGTERM stops the tree.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DagsterStack:
    """``dagster-daemon`` (and optionally ``dagster-webserver``) on one instance folder."""

    def __init__(
        self,
        dagster_home: Path,
        *,
        env: dict[str, str] | None = None,
        webserver: bool = False,
        workspace: Path = PROJECT_ROOT / "workspace.yaml",
    ) -> None:
        self.dagster_home = write_instance_config(dagster_home)
        self.workspace = workspace
        self.env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(self.dagster_home)}
        self.webserver_port = _free_port_block(1)[0] if webserver else None
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def webserver_url(self) -> str | None:
        """The webserver's URL, when one was asked for."""
        return f"http://127.0.0.1:{self.webserver_port}" if self.webserver_port else None

    def _spawn(self, args: list[str], log_name: str) -> None:
        log = (self.dagster_home / log_name).open("ab")
        self._procs.append(
            subprocess.Popen(
                args,
                cwd=self.workspace.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_reset_sigint,
                start_new_session=True,
            )
        )

    def start(self) -> "DagsterStack":
        """Start the daemon (and webserver); returns once the processes are spawned."""
        self._spawn([_bin("dagster-daemon"), "run", "-w", str(self.workspace)], "daemon.log")
        if self.webserver_port:
            self._spawn(
                [
                    _bin("dagster-webserver"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.webserver_port),
                    "-w",
                    str(self.workspace),
                ],
                "webserver.log",
            )
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every process (SIGTERM to each process group, then SIGKILL)."""
        for proc in self._procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            stop_process_group(proc, timeout)
        self._procs.clear()

    def __enter__(self) -> "DagsterStack":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
