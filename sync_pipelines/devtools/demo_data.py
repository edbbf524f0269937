"""Content of the demo's sources: a small git repository and a small docs website.

The S3 source uploads the files of ``demo_content/`` beside this module.
"""

from importlib import resources

REPO_FILES: dict[str, str] = {
    "README.md": """\
# acme-sdk

The Python SDK of Acme Cloud: buckets, API keys and billing from your code.

## Install

    pip install acme-sdk

## Quick start

```python
from acme import Client

client = Client(api_key="...")
for bucket in client.buckets():
    print(bucket.name, bucket.size_bytes)
```

Requests that fail with a connection error are retried with exponential backoff
(see `acme/retry.py`); pass `retries=0` to the client to turn that off.
""",
    "acme/__init__.py": '''\
"""The Acme Cloud SDK."""

from acme.client import Client

__all__ = ["Client"]
''',
    "acme/client.py": '''\
"""The Acme Cloud HTTP client."""

from dataclasses import dataclass

import requests

from acme.retry import retry

API_URL = "https://api.acme.example/v1"


@dataclass
class Bucket:
    """A storage bucket."""

    name: str
    size_bytes: int


class Client:
    """Talks to the Acme Cloud API with one API key."""

    def __init__(self, api_key: str, retries: int = 5, timeout: float = 10.0) -> None:
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"
        self.retries = retries
        self.timeout = timeout

    def _get(self, path: str) -> dict:
        def call() -> dict:
            response = self._session.get(API_URL + path, timeout=self.timeout)
            response.raise_for_status()
            return response.json()

        return retry(call, attempts=self.retries + 1)

    def buckets(self) -> list[Bucket]:
        """List the project's buckets."""
        return [Bucket(b["name"], b["size_bytes"]) for b in self._get("/buckets")["items"]]

    def rotate_key(self, key_id: str) -> str:
        """Create a new API key replacing ``key_id``; the old one stays valid for 24 hours."""
        response = self._session.post(f"{API_URL}/keys/{key_id}/rotate", timeout=self.timeout)
        response.raise_for_status()
        return response.json()["secret"]
''',
    # The same module the S3 source uploads, read from ``demo_content/``.
    "acme/retry.py": (
        resources.files("sync_pipelines.devtools") / "demo_content" / "retry.py"
    ).read_text(encoding="utf-8"),
    "acme/billing.py": '''\
"""Invoices and refunds."""

from dataclasses import dataclass
from datetime import date, timedelta

REFUND_WINDOW = timedelta(days=14)


@dataclass
class Invoice:
    """One monthly invoice."""

    number: str
    issued_on: date
    amount_cents: int


def refundable(invoice: Invoice, today: date) -> bool:
    """Whether ``invoice`` can still be refunded (within 14 days of issue)."""
    return today - invoice.issued_on <= REFUND_WINDOW
''',
    "CHANGELOG.md": """\
# Changelog

## 1.4.0
- `Client.rotate_key` rotates an API key in one call.
- Retries use full jitter.

## 1.3.0
- `Client.buckets` returns sizes in bytes.
""",
}

_NAV = ["/docs/", "/docs/quickstart", "/docs/buckets", "/docs/api-keys", "/docs/billing"]

SITE_PAGES: dict[str, tuple[str, str]] = {
    "/docs/": (
        "Acme Cloud documentation",
        "<p>Acme Cloud stores files in buckets and serves them over a simple HTTP API.</p>"
        "<p>New here? Start with the quick start, then read about buckets and API keys.</p>",
    ),
    "/docs/quickstart": (
        "Quick start",
        "<h2>1. Create a project</h2><p>Sign in to the console and choose <em>New project"
        "</em>. A project holds buckets, API keys and members.</p>"
        "<h2>2. Create an API key</h2><p>Open <em>Settings → API keys</em> and create a key. "
        "The secret is shown once: store it in your secrets manager.</p>"
        "<h2>3. Upload a file</h2><pre><code>acme cp report.pdf acme://my-bucket/</code></pre>",
    ),
    "/docs/buckets": (
        "Buckets",
        "<p>A bucket is a named container of objects. Names are global, 3 to 63 characters, "
        "lowercase letters, digits and hyphens.</p><h2>Versioning</h2><p>Turn on versioning "
        "to keep every version of an object; deleted objects then leave a delete marker.</p>"
        "<h2>Lifecycle rules</h2><p>Expire old versions after a number of days to save "
        "storage costs.</p>",
    ),
    "/docs/api-keys": (
        "API keys",
        "<p>Every request carries an API key in the <code>Authorization</code> header.</p>"
        "<h2>Rotating a key</h2><p>Keys never expire on their own. To rotate one, create a new "
        "key, deploy it to your services, then revoke the old key from <em>Settings → API "
        "keys</em>. The SDK's <code>rotate_key</code> does the first step in one call; the old "
        "key keeps working for 24 hours.</p><h2>Scopes</h2><p>Read-only keys cannot write or "
        "delete objects.</p>",
    ),
    "/docs/billing": (
        "Billing",
        "<p>Invoices are issued on the first day of each month for the previous month's "
        "storage and requests.</p><h2>Refunds</h2><p>Ask for a refund within 14 days of the "
        "invoice date from <em>Billing → Invoices</em>; refunds go back to the original "
        "payment method within 5 business days.</p>",
    ),
}


def site_links(path: str) -> list[tuple[str, str]]:
    """``(href, title)`` of the other docs pages a page links to ("See also")."""
    return [(other, SITE_PAGES[other][0]) for other in _NAV if other != path]
