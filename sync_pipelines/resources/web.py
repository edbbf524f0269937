"""HTTP fetching for web sources as a Dagster resource: the crawler's policy in one place.

The address guard is part of the policy: by default the crawler refuses loopback, private,
link-local and metadata-service addresses; ``allow_hosts`` names the exceptions.
"""

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from sync_pipelines.core.shards import DEFAULT_SHARD_BYTES, DEFAULT_SHARD_FILES, ShardLimits

if TYPE_CHECKING:
    from sync_pipelines.web import CrawlPolicy


class WebCrawlerResource(dg.ConfigurableResource):
    """How the crawler behaves towards the sites it reads."""

    user_agent: str = Field(description="User-Agent sent and matched against robots.txt.")
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, addresses or CIDR networks reachable although private/loopback.",
    )
    concurrency: int = Field(default=4, description="Requests at once per host.")
    timeout_s: float = Field(default=20.0, description="Per-request timeout in seconds.")
    max_page_bytes: int = Field(default=10 * 1024 * 1024, description="Page size cap.")
    max_retries: int = Field(default=3, description="Retries on 429, 5xx and connection errors.")
    max_retry_after_s: float = Field(
        default=60.0, description="Longest Retry-After or Crawl-delay honoured, in seconds."
    )
    shard_max_pages: int = Field(
        default=DEFAULT_SHARD_FILES,
        ge=1,
        description="Most fetched pages one step of a big sync chunks and writes (a shard).",
    )
    shard_max_bytes: int = Field(
        default=DEFAULT_SHARD_BYTES, ge=1, description="Most page bytes one shard holds."
    )

    def shard_limits(self) -> ShardLimits:
        """The bounds a big crawl's fetched pages are split by."""
        return ShardLimits(self.shard_max_pages, self.shard_max_bytes)

    def policy(self) -> "CrawlPolicy":
        """Return the crawler policy this resource describes."""
        from sync_pipelines.web import CrawlPolicy

        return CrawlPolicy(
            user_agent=self.user_agent,
            allow=tuple(self.allow_hosts),
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            max_page_bytes=self.max_page_bytes,
            max_retries=self.max_retries,
            max_retry_after_s=self.max_retry_after_s,
        )
