"""``chroma-sync serve``: the API bridge, the Dagster webserver and daemon (and S3) together.

Everything lives under one home folder: the SQLite catalog, Dagster's storage in
``<home>/dagster``, the Chroma store in ``<home>/chroma`` and, with ``--with-s3``, a SeaweedFS
store in ``<home>/s3``. The Chroma store is owned by one process, Chroma's own server
(``chroma run`` on 127.0.0.1, see :mod:`sync_pipelines.chroma_store`); every run, sensor and
CLI command talks to it over HTTP, since Dagster runs are separate processes and an embedded
store serves only one. The daemon and the webserver share one Dagster code server (loaded
once, not once each), which also spawns the run workers. Every process starts at once (S3
first when asked, since it is waited for), except the daemon: it waits until the webserver has
created a fresh Dagster storage, which the code server (started without ``DAGSTER_HOME``)
leaves alone. The daemon and webserver come up while the code server still loads and pick the
code location up within a second of it answering. ``serve`` is healthy when the API's
``/health`` is 200 (catalog, and a recent sensor daemon heartbeat) and the webserver has the
code location loaded. ``--host`` binds the API only; the webserver, which has no
authentication, binds ``--ui-host`` (127.0.0.1 unless the operator says otherwise).
Once healthy, ``serve`` supervises: a child that dies is restarted with backoff
(:mod:`sync_pipelines.supervisor`) while the others go on. Each child leads its own process
group, so Ctrl-C or SIGTERM to ``serve`` stops every process it started, grandchildren included.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import requests

from sync_pipelines.chroma_store import server_command, server_env
from sync_pipelines.client.home import HOME_CREATED
from sync_pipelines.client.s3_target import serve_banner
from sync_pipelines.devtools.dagster_stack import (
    PROJECT_ROOT,
    DagsterStack,
    _reset_sigint,
    write_instance_config,
)
from sync_pipelines.devtools.local_s3 import LocalS3Error, LocalS3Server, stop_process_group
from sync_pipelines.devtools.ports import GRPC_OFFSET, free_port
from sync_pipelines.serve_record import ServeRecord, live_record, remove_record, write_record
from sync_pipelines.serve_support import (
    ServeError,
    ServeOptions,
    check_port_free,
    code_location,
    code_location_loaded,
    connect_host,
    listening_on,
    private_ui_note,
    reap_group,
    write_grpc_workspace,
)
from sync_pipelines.supervisor import Supervisor

__all__ = ["ServeError", "ServeOptions", "Services", "serve"]

_STORAGE_WAIT_S = 30.0
Echo = Callable[[str], None]


def _status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return None


class Services:
    """The processes ``serve`` runs; start them in order, check health, restart, stop them all."""

    def __init__(self, options: ServeOptions, log: Echo | None = None) -> None:
        self.options = options
        self.home = options.home
        self.api_url = f"http://{connect_host(options.host)}:{options.api_port}"
        self.logs = self.home / "logs"
        self.dagster_home = self.home / "dagster"
        self.code_port = free_port()
        self.s3: LocalS3Server | None = None
        self.dagster: DagsterStack | None = None
        self.supervisor = Supervisor(log or (lambda line: None))
        self._workspace = self.dagster_home / "workspace.yaml"
        self._env: dict[str, str] = {}
        self._started = time.monotonic()
        self._daemon_started = False

    @property
    def chroma_url(self) -> str | None:
        """The URL of the Chroma server serve runs on the home's store (None when it runs none)."""
        if self.options.chroma_port is None:
            return None
        return f"http://127.0.0.1:{self.options.chroma_port}"

    def check_ports(self) -> None:
        """Fail fast, naming the port, when one of the ports to bind is taken."""
        opts = self.options
        check_port_free(opts.host, opts.api_port, "--api-port")
        check_port_free(opts.ui_host, opts.dagster_port, "--dagster-port")
        if opts.chroma_port is not None:
            check_port_free("127.0.0.1", opts.chroma_port, "--chroma-port")
        if opts.with_s3:
            check_port_free("127.0.0.1", opts.s3_port, "--s3-port")
            check_port_free("127.0.0.1", opts.s3_port + GRPC_OFFSET, "--s3-port + 10000 (gRPC)")

    def _popen(
        self, args: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None
    ) -> "subprocess.Popen[bytes]":
        with log.open("ab") as out:
            return subprocess.Popen(
                args,
                cwd=cwd,
                env=env or self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_reset_sigint,
                start_new_session=True,
            )

    def _spawn(
        self, name: str, args: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.supervisor.add(name, log, lambda: self._popen(args, log, cwd, env))

    def _chroma_env(self) -> dict[str, str]:
        if self.options.chroma_port is None:
            return {}
        return server_env("127.0.0.1", self.options.chroma_port)

    def start(self) -> None:
        """Start every process; return once S3 (when asked) answers."""
        module, location = code_location(PROJECT_ROOT / "workspace.yaml")
        self.logs.mkdir(parents=True, exist_ok=True)
        write_instance_config(self.dagster_home)
        env = {
            "CHROMA_SYNC_HOME": str(self.home),
            "DAGSTER_HOME": str(self.dagster_home),
            "CHROMA_SYNC_DAGSTER_URL": self.webserver_url,
            **self._chroma_env(),
        }
        if self.options.with_s3:
            self.s3 = LocalS3Server(self.home / "s3", s3_port=self.options.s3_port)
            env |= self._s3_env(self.s3)
            self.s3.launch()
        self._env = {**os.environ, **env}
        if self.options.chroma_port is not None:
            store = self.options.chroma_path or self.home / "chroma"
            chroma = server_command(store, "127.0.0.1", self.options.chroma_port)
            self._spawn("Chroma server", chroma, self.logs / "chroma.log", PROJECT_ROOT)
        code = [str(Path(sys.executable).parent / "dagster"), "api", "grpc", "-m", module]
        code += ["--location-name", location, "-h", "127.0.0.1", "-p", str(self.code_port)]
        code_log = self.dagster_home / "code-server.log"
        # Without DAGSTER_HOME the code server leaves the storage alone (the daemon creates
        # it): every request it serves carries the instance of the process that asked.
        code_env = {k: v for k, v in self._env.items() if k != "DAGSTER_HOME"}
        self._spawn("Dagster code server", code, code_log, PROJECT_ROOT, code_env)
        api = [sys.executable, "-m", "sync_pipelines.cli", "api"]
        api += ["--host", self.options.host, "--port", str(self.options.api_port)]
        self._spawn("API bridge", api, self.logs / "api.log", PROJECT_ROOT)
        write_grpc_workspace(self._workspace, location, self.code_port)
        self._started = time.monotonic()
        self.dagster = DagsterStack(
            self.dagster_home,
            env=self._env,
            webserver=True,
            workspace=self._workspace,
            webserver_port=self.options.dagster_port,
            host=self.options.ui_host,
        )
        dagster = self.dagster
        web_log = self.dagster_home / "webserver.log"
        self.supervisor.add("dagster-webserver", web_log, dagster.start_webserver)
        self.start_daemon_when_ready()
        if self.s3 is not None:
            try:
                self.s3.wait_ready()
            except LocalS3Error as exc:
                raise ServeError(f"local S3 server: {exc}") from exc

    def start_daemon_when_ready(self) -> None:
        """Start the daemon once the webserver has created the Dagster storage (or after 30 s).

        Two processes creating a fresh SQLite storage together can both stamp its schema and
        then refuse to start. A home started before, or a non-SQLite storage, is ready at once.
        The webserver goes first: it has the longer start-up (its imports alone take ~5 s on
        this machine), and the daemon, finding the storage made, heartbeats a few seconds
        after it starts.
        """
        if self.dagster is None or self._daemon_started:
            return
        if self.dagster.storage_ready() or time.monotonic() - self._started > _STORAGE_WAIT_S:
            log = self.dagster_home / "daemon.log"
            self.supervisor.add("dagster-daemon", log, self.dagster.start_daemon)
            self._daemon_started = True

    @staticmethod
    def _s3_env(s3: LocalS3Server) -> dict[str, str]:
        env = {"CHROMA_SYNC_S3_ENDPOINT_URL": s3.endpoint_url}
        if "AWS_ACCESS_KEY_ID" not in os.environ:
            env |= {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
        # The development S3 server is the server-wide endpoint: its keys serve every
        # database of this stack unless the operator decided otherwise.
        if "CHROMA_SYNC_S3_SERVER_CREDENTIALS_DATABASES" not in os.environ:
            env["CHROMA_SYNC_S3_SERVER_CREDENTIALS_DATABASES"] = '["*"]'
        return env

    @property
    def webserver_url(self) -> str:
        """The Dagster UI's URL (the API launches runs through it)."""
        return f"http://{connect_host(self.options.ui_host)}:{self.options.dagster_port}"

    def exited_child(self) -> str | None:
        """Describe the first child that exited, if any (with its log file)."""
        return self.supervisor.first_exited()

    def healthy(self) -> bool:
        """API ``/health`` is 200, Chroma answers and the webserver has the code location loaded.

        ``/health`` is asked first: it is cheap (the API caches its answer for 2 s), while each
        workspace query costs the still-starting webserver CPU.
        """
        if _status(f"{self.api_url}/health") != 200:
            return False
        if self.chroma_url and _status(f"{self.chroma_url}/api/v2/heartbeat") != 200:
            return False
        return code_location_loaded(self.webserver_url)

    def wait_until_healthy(self, stop: threading.Event) -> None:
        """Wait until :meth:`healthy` (or ``stop`` is set), starting Dagster when it may.

        Raises:
            ServeError: A child exited, or the stack was not healthy within the ready timeout.
        """
        timeout = self.options.ready_timeout_s
        while not stop.is_set() and not self.healthy():
            if (failure := self.exited_child()) is not None:
                raise ServeError(failure)
            if time.monotonic() - self._started > timeout:
                raise ServeError(
                    f"not healthy after {timeout:.0f} s; logs in {self.logs} and "
                    f"{self.dagster_home}"
                )
            self.start_daemon_when_ready()
            stop.wait(0.25)

    def started_anything(self) -> bool:
        """Whether any process was started (and so needs stopping)."""
        return bool(self.supervisor.children) or self.s3 is not None

    def stop(self) -> None:
        """Stop the API, the daemon and webserver, the code server, Chroma, then S3."""
        procs = {child.name: child.proc for child in self.supervisor.children if child.proc}
        first = [procs.get("API bridge")]
        last = [procs.get("Chroma server")]
        middle = [
            proc for name, proc in procs.items() if name not in ("API bridge", "Chroma server")
        ]
        for proc in [*first, *middle, *last]:
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                stop_process_group(proc, timeout=15)
            reap_group(proc.pid)
        if self.dagster is not None:
            self.dagster.stop()
        self.supervisor.children.clear()
        if self.s3 is not None:
            self.s3.stop()


def _banner(services: Services, elapsed: float, echo: Echo) -> None:
    opts = services.options
    echo(f"chroma-sync is up in {elapsed:.1f} s (home {services.home})")
    echo(f"  API         {services.api_url}{listening_on(opts.host)}")
    echo(f"  Dagster UI  {services.webserver_url}{listening_on(opts.ui_host)}")
    if services.chroma_url is not None:
        echo(f"  Chroma      {services.chroma_url} (store {services.home / 'chroma'})")
    if services.s3 is not None:
        s3 = services.s3
        for line in serve_banner(s3.endpoint_url, s3.access_key, s3.secret_key, services.home):
            echo(line)
    echo(f"  logs        {services.logs}, {services.dagster_home}")
    echo("Press Ctrl-C to stop.")


def _run(services: Services, stop: threading.Event, echo: Echo, err: Echo) -> None:
    if (other := live_record(services.home)) is not None and other.pid != os.getpid():
        raise ServeError(
            f"another serve (pid {other.pid}) runs on home {services.home}, API {other.api_url}"
        )
    services.check_ports()
    if not services.home.exists():
        services.home.mkdir(parents=True)
        err(HOME_CREATED.format(home=services.home))
    if (note := private_ui_note(services.options)) is not None:
        echo(note)
    started = time.monotonic()
    services.start()
    services.wait_until_healthy(stop)
    if not stop.is_set():
        s3 = services.s3.endpoint_url if services.s3 is not None else None
        record = ServeRecord.now(services.api_url, services.webserver_url, services.chroma_url, s3)
        write_record(services.home, record)  # client commands find the API in it
        _banner(services, time.monotonic() - started, echo)
    while not stop.wait(0.5):
        services.supervisor.tick()


def serve(options: ServeOptions, echo: Echo, err: Echo) -> int:
    """Run the stack until SIGINT or SIGTERM.

    Args:
        options: Ports, host, home and whether to run S3.
        echo: Prints a line of normal output.
        err: Prints a line on stderr.

    Returns:
        0 after a clean stop on a signal, 1 when starting failed or a child died.
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    services = Services(options, log=lambda line: err(f"serve: {line}"))
    code = 0
    try:
        _run(services, stop, echo, err)
    except ServeError as exc:
        err(f"error: {exc}")
        code = 1
    finally:
        remove_record(services.home, os.getpid())
        if services.started_anything():
            err("stopping ...")
        services.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == 0:
        err("stopped")
    return code
