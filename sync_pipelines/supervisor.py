"""Keep ``serve``'s child processes running: restart one that dies, with backoff and a log line.

Each child is a name, its log file and a function that starts it. A child that exits is
started again after a delay that doubles with each exit (1 s, 2 s, 4 s ... at most
``max_delay_s``) and falls back to the first delay once the child has stayed up for
``stable_after_s``. The other children go on meanwhile: when the Dagster daemon dies, the API
still accepts invocations, which wait as ``pending`` until the daemon is back.
"""

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Launch = Callable[[], "subprocess.Popen[bytes]"]


@dataclass
class Child:
    """One supervised process."""

    name: str
    log: Path
    launch: Launch
    proc: "subprocess.Popen[bytes] | None" = None
    started_at: float = 0.0
    exits: int = 0
    restart_at: float | None = None
    history: list[int] = field(default_factory=list)

    def start(self) -> None:
        """Start (or start again) the process."""
        self.proc = self.launch()
        self.started_at = time.monotonic()
        self.restart_at = None

    def exit_code(self) -> int | None:
        """The exit code when the process has exited, else None."""
        return None if self.proc is None else self.proc.poll()


class Supervisor:
    """Starts children and restarts the ones that exit."""

    def __init__(
        self,
        log: Callable[[str], None],
        *,
        first_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        stable_after_s: float = 60.0,
    ) -> None:
        """Report restarts through ``log``; back off from ``first_delay_s`` to ``max_delay_s``."""
        self.log = log
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.stable_after_s = stable_after_s
        self.children: list[Child] = []

    def add(self, name: str, log: Path, launch: Launch) -> Child:
        """Start a child now and supervise it from then on."""
        child = Child(name=name, log=log, launch=launch)
        child.start()
        self.children.append(child)
        return child

    def first_exited(self) -> str | None:
        """Describe the first child that has exited (while starting, an exit is fatal)."""
        for child in self.children:
            if (code := child.exit_code()) is not None:
                return f"{child.name} exited with code {code}; see {child.log}"
        return None

    def delay_for(self, child: Child, now: float) -> float:
        """The wait before restarting ``child``, which has just exited."""
        if now - child.started_at >= self.stable_after_s:
            child.exits = 0
        delay = min(self.max_delay_s, self.first_delay_s * float(2**child.exits))
        child.exits += 1
        return delay

    def tick(self, now: float | None = None) -> None:
        """Schedule a restart for each newly exited child; restart those whose delay is over."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            code = child.exit_code()
            if code is None:
                continue
            if child.restart_at is None:
                delay = self.delay_for(child, now)
                child.restart_at = now + delay
                child.history.append(code)
                self.log(
                    f"{child.name} exited with code {code}; restarting in {delay:.0f} s "
                    f"(log {child.log})"
                )
            elif now >= child.restart_at:
                child.start()
                pid = child.proc.pid if child.proc else "?"
                self.log(f"{child.name} restarted (pid {pid})")

    def processes(self) -> list["subprocess.Popen[bytes]"]:
        """The current process of every child."""
        return [child.proc for child in self.children if child.proc is not None]
