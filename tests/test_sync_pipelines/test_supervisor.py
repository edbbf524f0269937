"""serve's supervisor: a child that exits is restarted after a backoff, with a log line.

Contract: the first restart waits ``first_delay_s``, each further one twice as long up to
``max_delay_s``; a child that stayed up ``stable_after_s`` starts again from the first delay;
children that keep running are left alone.
"""

import subprocess
import sys
import time
from pathlib import Path

from sync_pipelines.supervisor import Supervisor


def sleeper(seconds: float) -> "subprocess.Popen[bytes]":
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def wait_exit(proc: "subprocess.Popen[bytes] | None") -> None:
    assert proc is not None
    proc.wait(timeout=30)


def test_exited_child_restarts_with_doubling_backoff(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(lines.append, first_delay_s=1, max_delay_s=3, stable_after_s=1000)
    dying = sup.add("quick", tmp_path / "q.log", lambda: sleeper(0))
    steady = sup.add("steady", tmp_path / "s.log", lambda: sleeper(60))
    try:
        delays = []
        for _ in range(4):
            wait_exit(dying.proc)
            first_pid = dying.proc.pid if dying.proc else 0
            now = time.monotonic()
            sup.tick(now)
            assert dying.restart_at is not None
            delays.append(round(dying.restart_at - now))
            sup.tick(now + 0.1)  # too early: not restarted yet
            assert dying.proc is not None and dying.proc.pid == first_pid
            sup.tick(dying.restart_at)
            assert dying.proc.pid != first_pid
        assert delays == [1, 2, 3, 3]
        assert dying.history == [0, 0, 0, 0]
        assert lines[0] == f"quick exited with code 0; restarting in 1 s (log {tmp_path / 'q.log'})"
        assert lines[1].startswith("quick restarted (pid ")
        assert steady.history == [] and steady.exit_code() is None
        assert sup.first_exited() is None or sup.first_exited().startswith("quick")  # type: ignore[union-attr]
    finally:
        for proc in sup.processes():
            proc.kill()
            proc.wait()


def test_a_child_that_stayed_up_backs_off_from_the_start_again(tmp_path: Path) -> None:
    sup = Supervisor(lambda line: None, first_delay_s=1, max_delay_s=30, stable_after_s=5)
    child = sup.add("c", tmp_path / "c.log", lambda: sleeper(0))
    wait_exit(child.proc)
    child.exits = 4  # it had crashed often before ...
    child.started_at = time.monotonic() - 10  # ... but this time it ran for 10 s
    now = time.monotonic()
    sup.tick(now)
    assert child.restart_at is not None and round(child.restart_at - now) == 1
