"""Process trees from ``/proc`` (Linux): descendants, liveness and resident memory (RSS, PSS).

Used by the ``serve`` test and benchmark to check that no child outlives ``chroma-sync serve``
and to sum the memory and CPU time of the whole tree, without depending on psutil.
"""

import os
from pathlib import Path

PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is parenthesised and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def parent_map() -> dict[int, int]:
    """Map every visible pid to its parent pid."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> set[int]:
    """Return the pids of every live descendant of ``pid`` (not ``pid`` itself)."""
    children: dict[int, list[int]] = {}
    for child, parent in parent_map().items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def is_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def rss_bytes(pid: int) -> int:
    """Resident memory of one process in bytes (0 when it is gone)."""
    try:
        pages = int((PROC / str(pid) / "statm").read_text().split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process in bytes (0 when it is gone or unreadable).

    Unlike RSS, each shared page (Python itself, shared libraries, copy-on-write pages) is
    split between the processes mapping it, so PSS summed over a tree is the RAM the tree
    really occupies, where summed RSS counts shared pages once per process.
    """
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
        return 0
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far, in seconds (0 when it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime); ``fields`` starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def started_after_boot(pid: int) -> float:
    """When ``pid`` started, in seconds since boot (0 when it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # Field 22 of /proc/<pid>/stat (starttime, in clock ticks); ``fields`` starts at field 3.
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")
