"""The demo's three sources: a git repository, an S3 bucket and a docs website, all local.

Each ``*_source`` function prepares the content and returns the create-source body (for
``POST /api/v1/sources``) and the create-invocation bodies to send for it.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sync_pipelines.devtools.demo_data import REPO_FILES, SITE_PAGES, site_links
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.devtools.web_content import html_page
from sync_pipelines.devtools.web_site import LocalWebSite, Page

DEMO_DATABASE = "demo"
REPOSITORY = "acme/acme-sdk"
BUCKET = "acme-files"
S3_PREFIX = "docs/"
DOCS_HOME = "/docs/"
CHUNKING = {"type": "tree_sitter", "max_size_bytes": 600}


@dataclass(frozen=True)
class DemoSource:
    """One source of the demo: its type label, collection, question and request bodies.

    Attributes:
        kind: ``github``, ``s3`` or ``web`` (the prefix of the demo's output lines).
        collection: The collection it syncs into.
        question: What the demo asks the collection once synced.
        body: The create-source body.
        invocations: ``(label, body)`` of each create-invocation request.
    """

    kind: str
    collection: str
    question: str
    body: dict[str, Any]
    invocations: list[tuple[str, dict[str, Any]]]


def github_source(git_root: Path, daemon: GitDaemon) -> DemoSource:
    """Build ``acme/acme-sdk`` (one commit on ``main``) under the daemon's folder."""
    repo = init_bare(git_root / REPOSITORY)
    fast_import(repo, [CommitSpec(REPO_FILES, message="acme-sdk 1.4.0")])
    collection = "acme-sdk-code"
    body = {
        "database_name": DEMO_DATABASE,
        "github": {"repository": REPOSITORY, "base_url": f"git://127.0.0.1:{daemon.port}"},
        "chunking": CHUNKING,
    }
    invocation = {"target_collection_name": collection, "ref_identifier": {"branch": "main"}}
    return DemoSource(
        "github",
        collection,
        "retry a request with exponential backoff",
        body,
        [(f"{REPOSITORY}@main", invocation)],
    )


def s3_source(s3: LocalS3Server) -> DemoSource:
    """Upload the files of ``demo_content/`` to a bucket under ``docs/``."""
    content = resources.files("sync_pipelines.devtools") / "demo_content"
    files = sorted((e.name, e.read_bytes()) for e in content.iterdir() if e.is_file())
    client = s3.client()
    client.create_bucket(Bucket=BUCKET)
    keys = []
    for name, data in files:
        client.put_object(Bucket=BUCKET, Key=S3_PREFIX + name, Body=data)
        keys.append(S3_PREFIX + name)
    collection = "acme-files"
    body = s3.source_body(
        DEMO_DATABASE, BUCKET, collection, path_prefix=S3_PREFIX, chunking=CHUNKING
    )
    return DemoSource(
        "s3",
        collection,
        "how do I get a refund",
        body,
        [(key, {"object_key": key}) for key in keys],
    )


def web_source(site: LocalWebSite) -> DemoSource:
    """Serve the Acme Cloud docs pages on ``site``; the crawl starts at ``/docs/``."""
    for path, (title, body_html) in SITE_PAGES.items():
        text = html_page(title, body_html, site_links(path), home=DOCS_HOME)
        site.pages[path] = Page(text)
    site.add_robots("User-agent: *\nAllow: /\n")
    collection = "acme-docs-site"
    start = site.url(DOCS_HOME)
    body = {
        "database_name": DEMO_DATABASE,
        "web_scrape": {"starting_url": start, "page_limit": 20},
        "chunking": CHUNKING,
    }
    return DemoSource(
        "web",
        collection,
        "how do I rotate an API key",
        body,
        [(start, {"target_collection_name": collection})],
    )
