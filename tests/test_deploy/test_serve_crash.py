"""The whole ``chroma-sync serve`` tree killed with invocations in flight (issue 12).

Contract: after ``kill -9`` of serve and every process below it (API, Dagster daemon,
webserver, code server, run workers, Chroma server, SeaweedFS) and a restart on the same home,
every invocation is terminal within 3 minutes, none is left ``pending`` or ``processing``, and
none completed twice (at most one SUCCESS run each).
"""

import time
from pathlib import Path

from sync_pipelines.chroma_store import read_owner
from sync_pipelines.devtools.demo_sources import DEMO_DATABASE
from tests.test_deploy.serve_helpers import Client, Serve, word
from tests.test_deploy.test_serve_reliability import ENV, RUNS_QUERY, document, graphql


def test_killing_the_whole_tree_leaves_no_invocation_stuck(tmp_path: Path) -> None:
    server = Serve(tmp_path / "home", ENV).start()
    try:
        member = Client(server.api, server.token(DEMO_DATABASE, admin=False))
        ids = [
            member.upload(DEMO_DATABASE, "crash", f"doc-{i}.md", document(f"doc{i}", 400))
            for i in range(5)
        ]
        deadline = time.monotonic() + 120
        while not any(word(member.status(i)) == "processing" for i in ids):
            assert time.monotonic() < deadline, "nothing started"
            time.sleep(0.2)
        server.kill_tree()
        owner = read_owner(server.home / "chroma")
        assert owner is not None  # the dead server's record is stale now
        server.start()
        member = Client(server.api, member.session.headers["x-chroma-token"])  # type: ignore[arg-type]
        finished = member.wait_all(ids, timeout=180)
        assert {word(s) for s in finished.values()} <= {"complete", "failed"}
        for invocation_id in ids:
            runs = graphql(server, RUNS_QUERY, tag=invocation_id)
            assert sum(run["status"] == "SUCCESS" for run in runs) <= 1, runs
    finally:
        server.stop()
