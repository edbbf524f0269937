"""Run a real Dagster instance for chroma-sync: instance config, daemon and webserver processes.

Used by the tests, the benchmarks and ``chroma-sync serve``. The instance queues runs with a
1 s dequeue interval and launches up to four at once (dequeue threads); jobs run their ops in
process, so an invocation reaches ``processing`` a few seconds after it is accepted. The asset
and freshness daemons are off: chroma-sync defines no assets, and each would otherwise tick
(and take CPU) every few seconds for nothing. Run monitoring is on (see :data:`RUN_MONITORING`).
"""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import yaml

from sync_pipelines.devtools.local_s3 import stop_process_group
from sync_pipelines.devtools.ports import free_port_block

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SQLITE_STORAGE = """\
storage:
  sqlite:
    base_dir: {storage}
"""
POSTGRES_STORAGE = """\
storage:
  postgres:
    postgres_url: {url}
"""
RUN_MONITORING = """\
run_monitoring:
  # Fail runs stuck STARTING / NOT_STARTED, end runs stuck CANCELING. The default run
  # launcher cannot check a run worker's health, and runs are not resumable mid-op: the
  # chroma-sync reconciler sensor finds dead workers and fails or relaunches invocations.
  enabled: true
  start_timeout_seconds: 60
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 10
"""
INSTANCE_SETTINGS = (
    """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
    dequeue_use_threads: true
    dequeue_num_workers: 4
    max_user_code_failure_retries: 2
    user_code_failure_retry_delay: 5
auto_materialize:
  enabled: false
  use_sensors: false
freshness:
  enabled: false
telemetry:
  enabled: false
nux:
  enabled: false
"""
    + RUN_MONITORING
)
DAGSTER_YAML = SQLITE_STORAGE + INSTANCE_SETTINGS
#: Dagster's SQLite storage files under ``<DAGSTER_HOME>/storage`` (run, event-log index and
#: schedule storage), each stamped with its alembic revision when created.
SQLITE_STORAGE_FILES = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")
STORAGE_WAIT_S = 60.0
PSYCOPG2_SCHEME = "postgresql+psycopg2://"


def write_instance_config(dagster_home: Path, postgres_url: str | None = None) -> Path:
    """Write ``dagster.yaml`` into ``dagster_home`` unless one exists; return the folder.

    An existing file is kept as it is, except that one without a ``run_monitoring`` section
    (every home made before it was shipped) gets :data:`RUN_MONITORING` appended.

    Args:
        dagster_home: The instance folder (``DAGSTER_HOME``).
        postgres_url: When set, runs, event logs and schedules are stored in this PostgreSQL
            database (``dagster-postgres``) instead of SQLite files under ``dagster_home``;
            every other setting is the same.

    Raises:
        ValueError: ``postgres_url`` does not name the psycopg2 driver.
    """
    if postgres_url and not postgres_url.startswith(PSYCOPG2_SCHEME):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, whose connections
        # dagster-postgres closes after setting the statement timeout.
        raise ValueError(f"Dagster's postgres_url must start with {PSYCOPG2_SCHEME}")
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        storage = (
            POSTGRES_STORAGE.format(url=json.dumps(postgres_url))
            if postgres_url
            else SQLITE_STORAGE.format(storage=dagster_home / "storage")
        )
        config.write_text(storage + INSTANCE_SETTINGS)
    else:
        add_run_monitoring(config)
    return dagster_home


def add_run_monitoring(config: Path) -> bool:
    """Append :data:`RUN_MONITORING` to ``config`` unless it configures run monitoring.

    Returns:
        Whether the file was changed.
    """
    text = config.read_text()
    settings = yaml.safe_load(text) or {}
    if not isinstance(settings, dict) or "run_monitoring" in settings:
        return False
    separator = "" if not text or text.endswith("\n") else "\n"
    config.write_text(text + separator + RUN_MONITORING)
    return True


def sqlite_storage_ready(storage_dir: Path) -> bool:
    """Whether Dagster's SQLite storage under ``storage_dir`` exists and is stamped.

    Dagster processes that open a fresh SQLite storage at the same moment can both stamp its
    alembic revision and then refuse to start ("more than one head"), so ``serve`` starts the
    daemon and the webserver only once the first process (the code server) has created it.
    """
    for name in SQLITE_STORAGE_FILES:
        path = storage_dir / name
        if not path.is_file():
            return False
        try:
            with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
                (rows,) = db.execute("SELECT count(*) FROM alembic_version").fetchone()
        except sqlite3.Error:
            return False
        if rows != 1:
            return False
    return True


def uses_sqlite_storage(dagster_home: Path) -> bool:
    """Whether the instance in ``dagster_home`` keeps its storage in SQLite files."""
    config = dagster_home / "dagster.yaml"
    return config.is_file() and "sqlite:" in config.read_text()


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
        webserver_port: int | None = None,
        host: str = "127.0.0.1",
        postgres_url: str | None = None,
    ) -> None:
        self.dagster_home = write_instance_config(dagster_home, postgres_url)
        self.workspace = workspace
        self.env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(self.dagster_home)}
        self.host = host
        self.webserver_port = (webserver_port or free_port_block(1)[0]) if webserver else None
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def webserver_url(self) -> str | None:
        """The webserver's URL (loopback when it binds every address), when one was asked for."""
        if not self.webserver_port:
            return None
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.webserver_port}"

    @property
    def processes(self) -> list["subprocess.Popen[bytes]"]:
        """The running processes (daemon first), each leading its own process group."""
        return list(self._procs)

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
        """Start the daemon (and webserver); returns once the processes are spawned.

        On a fresh SQLite storage the webserver starts only once the daemon has created it
        (two processes creating it together can both stamp its schema and then fail).
        """
        self.start_daemon()
        if self.webserver_port:
            deadline = time.monotonic() + STORAGE_WAIT_S
            while not self.storage_ready() and time.monotonic() < deadline:
                if self._procs[0].poll() is not None:
                    break
                time.sleep(0.1)
            self.start_webserver()
        return self

    def storage_ready(self) -> bool:
        """Whether another process may open the storage now (a non-SQLite one always)."""
        if not uses_sqlite_storage(self.dagster_home):
            return True
        return sqlite_storage_ready(self.dagster_home / "storage")

    def start_daemon(self) -> "subprocess.Popen[bytes]":
        """Spawn ``dagster-daemon run`` (its log: ``daemon.log``) and return it."""
        self._spawn([_bin("dagster-daemon"), "run", "-w", str(self.workspace)], "daemon.log")
        return self._procs[-1]

    def start_webserver(self) -> "subprocess.Popen[bytes]":
        """Spawn ``dagster-webserver`` (its log: ``webserver.log``) and return it.

        Raises:
            ValueError: The stack was made without ``webserver=True``.
        """
        if not self.webserver_port:
            raise ValueError("this stack has no webserver")
        args = [_bin("dagster-webserver"), "-h", self.host, "-p", str(self.webserver_port)]
        self._spawn([*args, "-w", str(self.workspace)], "webserver.log")
        return self._procs[-1]

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
