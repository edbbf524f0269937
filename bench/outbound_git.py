"""What the outbound policy costs a git fetch: the same mirror fetched with and without it.

A fresh mirror of one repository (``--files`` files) is fetched from a local ``git daemon``
(git://, through the checking proxy command) and from smart HTTP (http://, libcurl pinned to
the checked address), each ``--rounds`` times with the policy and without it, alternating.
Prints the median seconds of each and the ratio (policy / none), measured in this process.

    .venv/bin/python bench/outbound_git.py [--files 200] [--rounds 5]
"""

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
from sync_pipelines.devtools.git_server import GitDaemon, GitHttpServer
from sync_pipelines.git import GitMirror
from sync_pipelines.outbound.git_transport import GitTransport
from sync_pipelines.outbound.policy import AddressPolicy


def _fetch_seconds(work: Path, url: str, transport: GitTransport | None) -> float:
    mirror_dir = Path(tempfile.mkdtemp(dir=work))
    mirror = GitMirror(
        mirror_dir / "m",
        url,
        transport=(lambda: transport.settings(url)) if transport else None,
    )
    started = time.perf_counter()
    mirror.fetch()
    elapsed = time.perf_counter() - started
    shutil.rmtree(mirror_dir)
    return elapsed


def _compare(name: str, rounds: int, fetch: Callable[[GitTransport | None], float]) -> None:
    transport = GitTransport(AddressPolicy(["127.0.0.1"]), script_dir=Path(tempfile.mkdtemp()))
    fetch(transport)  # warm-up: writes the proxy script, fills caches
    guarded, plain = [], []
    for _ in range(rounds):
        guarded.append(fetch(transport))
        plain.append(fetch(None))
    g, p = statistics.median(guarded), statistics.median(plain)
    print(f"{name:6} with policy {g:.3f} s, without {p:.3f} s, ratio x{g / p:.2f}")


def main() -> None:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = init_bare(root / "served" / "octo" / "repo", "main")
        files = {
            f"src/file{i}.py": f"def f{i}():\n    return {i}\n" * 20 for i in range(args.files)
        }
        fast_import(repo, [CommitSpec(files)])
        work = root / "work"
        work.mkdir()
        print(f"one commit of {args.files} files, {args.rounds} rounds, median of each")
        with GitDaemon(root / "served") as daemon:
            url = f"git://127.0.0.1:{daemon.port}/octo/repo"
            _compare("git://", args.rounds, lambda t: _fetch_seconds(work, url, t))
        with GitHttpServer(root / "served") as http:
            url = f"http://127.0.0.1:{http.port}/octo/repo"
            _compare("http://", args.rounds, lambda t: _fetch_seconds(work, url, t))


if __name__ == "__main__":
    main()
