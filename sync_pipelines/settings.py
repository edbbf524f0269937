"""Server settings: one object, read from ``CHROMA_SYNC_*`` environment variables.

Everything a hosted-API client cannot send (the S3 endpoint, where Chroma lives, where the
catalog is stored) comes from here. The defaults put the whole embedded stack under one home
folder: a SQLite catalog, a Chroma ``PersistentClient`` and the local embedding model.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sync_pipelines.settings_scale import ScaleOutSettings

DEFAULT_MAX_OBJECT_BYTES = 200 * 1024 * 1024


class Settings(ScaleOutSettings):
    """chroma-sync server settings (environment prefix ``CHROMA_SYNC_``)."""

    model_config = SettingsConfigDict(env_prefix="CHROMA_SYNC_", extra="ignore")

    home: Path = Field(
        default=Path("~/.chroma-sync"),
        description="Home folder of the embedded stack (catalog, Chroma data, models).",
    )
    catalog_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog; default SQLite at <home>/catalog.db.",
    )
    chroma_mode: Literal["persistent", "http", "cloud"] = Field(
        default="persistent", description="Embedded PersistentClient, a Chroma server, or Cloud."
    )
    chroma_path: Path | None = Field(
        default=None, description="PersistentClient folder; default <home>/chroma."
    )
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    chroma_ssl: bool = False
    chroma_tenant: str = "default_tenant"
    chroma_api_key: SecretStr | None = Field(default=None, description="Chroma Cloud API key.")
    model_dir: Path | None = Field(
        default=None,
        description="Folder holding embedding models; default <home>/models.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Default endpoint of S3-compatible stores; unset means AWS itself.",
    )
    s3_region: str | None = None
    github_base_url: str = Field(
        default="https://github.com",
        description="Git host base URL that a GitHub source's 'owner/repo' resolves against.",
    )
    github_token: SecretStr | None = Field(
        default=None,
        description="Default access token for git sources that store none of their own.",
    )
    github_app_private_key: SecretStr | None = Field(
        default=None,
        description="GitHub App private key (PEM text) for sources with an app_id and no token.",
    )
    github_app_private_key_file: Path | None = Field(
        default=None, description="File holding the GitHub App private key (PEM), instead."
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        description="GitHub REST API root that App installation tokens are minted from.",
    )
    max_object_bytes: int = Field(
        default=DEFAULT_MAX_OBJECT_BYTES,
        gt=0,
        description="Objects larger than this fail before download.",
    )
    embed_batch_size: int = Field(default=32, gt=0)
    api_host: str = Field(default="127.0.0.1", description="Address `chroma-sync api` binds.")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Port `chroma-sync api` binds.")
    api_max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="Largest JSON request body the API accepts (413 above, a transport limit "
        "the spec does not list); add-file excepted. The default fits every request the spec "
        "allows: 1,000 object keys of 1,024 bytes, each JSON-escaped up to 6x.",
    )
    uploads_dir: Path | None = Field(
        default=None, description="Where add-file stores uploads; default <home>/uploads."
    )
    max_upload_bytes: int = Field(
        default=DEFAULT_MAX_OBJECT_BYTES, gt=0, description="Largest add-file upload (400 above)."
    )
    max_concurrent_uploads: int = Field(
        default=4, gt=0, description="add-file requests served at once per API process (429 above)."
    )
    api_token_cache_s: float = Field(
        default=2.0,
        ge=0,
        description="Seconds the API caches an authenticated token (a revocation takes effect "
        "within this delay); 0 looks every token up on every request.",
    )
    orchestrator_heartbeat_max_age_s: float = Field(
        default=120.0,
        gt=0,
        description="/health needs a Dagster SENSOR daemon heartbeat at most this old.",
    )

    dagster_url: str | None = Field(
        default=None,
        description=(
            "Dagster webserver URL: accepted invocations are launched through its GraphQL API "
            "at once; unset, the invocation sensor launches them on its next tick."
        ),
    )
    launch_grace_seconds: float = Field(
        default=15.0,
        ge=0,
        description=(
            "With dagster_url set, the invocation sensor leaves an invocation this long to the "
            "direct launch before launching it itself."
        ),
    )

    # --- Web crawling (issue 5) ---
    crawl_user_agent: str = Field(
        default="chroma-sync/0.1 (+https://github.com/chroma-sync/chroma-sync)",
        description="User-Agent the crawler sends and matches robots.txt groups against.",
    )
    crawl_allow_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts, addresses or networks (CIDR) the crawler may reach although they are "
            "loopback, private, link-local or metadata addresses, e.g. ['127.0.0.1/32']."
        ),
    )
    crawl_concurrency: int = Field(default=4, ge=1, le=32, description="Requests at once per host.")
    crawl_timeout_s: float = Field(default=20.0, gt=0, description="Per-request timeout.")
    crawl_max_page_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Pages larger than this are skipped."
    )
    crawl_max_retries: int = Field(default=3, ge=0, le=10, description="Retries on 429/5xx.")
    crawl_max_retry_after_s: float = Field(
        default=60.0, ge=0, description="Longest Retry-After / Crawl-delay honoured."
    )
    crawl_default_page_limit: int = Field(
        default=1000, gt=0, description="page_limit when a web source sets none."
    )
    crawl_max_page_limit: int = Field(
        default=100_000, gt=0, description="Largest page_limit a web source may ask for."
    )
    crawl_max_depth_limit: int = Field(
        default=100, ge=0, description="Largest max_depth a web source may ask for."
    )

    # --- Automation (issue 6) ---
    s3_sensor_interval_s: int = Field(
        default=30, ge=1, description="Seconds between S3 auto-sync sensor ticks."
    )
    s3_sensor_max_pages_per_tick: int = Field(
        default=20,
        ge=1,
        description="ListObjectsV2 pages (1,000 keys each) one tick reads per source.",
    )
    max_batch_invocations: int = Field(
        default=500,
        ge=1,
        description="Pending S3/upload invocations of one source that one Dagster run serves.",
    )

    # --- Big objects (issue 12) ---
    stream_object_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description=(
            "S3 objects larger than this are synced after the rest of their batch: downloaded "
            "to a temporary file, chunked from the stream, embedded and written in bounded "
            "groups (memory does not grow with the object)."
        ),
    )
    max_object_seconds: float = Field(
        default=3600.0,
        gt=0,
        description=(
            "Per-object time budget of a streamed (big) object, from its download until its "
            "last group is embedded; over it, its invocation fails and nothing is written."
        ),
    )
    max_object_chunks: int = Field(
        default=250_000,
        gt=0,
        description="Most chunks one object may produce; above it, its invocation fails.",
    )

    # --- Tenants and the host (issue 13) ---
    outbound_allow_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts, addresses or networks (CIDR) that user-supplied URLs (web starting URLs, git "
            "base_url, S3 endpoint_url) may reach although they are loopback, private, "
            "link-local or metadata addresses, e.g. ['127.0.0.1/32']. "
            "CHROMA_SYNC_CRAWL_ALLOW_HOSTS is an older name for the same list (both honoured)."
        ),
    )
    git_local_roots: list[Path] = Field(
        default_factory=list,
        description=(
            "Folders under which a GitHub source's base_url may be a file:// URL; none by default "
            "(file:// sources are refused)."
        ),
    )
    s3_server_credentials_databases: list[str] = Field(
        default_factory=list,
        description=(
            "Databases whose S3 sources without keys may use the server's own AWS credentials "
            "(default chain or AWS_* variables); '*' grants every database. Never used for "
            "sources with an endpoint_url."
        ),
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key (Fernet, url-safe base64 of 32 bytes) encrypting stored secrets; default: read "
            "from secret_key_file, created 0600 on first start."
        ),
    )
    secret_key_file: Path | None = Field(
        default=None, description="File holding the secret key; default <home>/secret.key."
    )
    ui_host: str = Field(
        default="127.0.0.1",
        description=(
            "Address the Dagster webserver binds under `chroma-sync serve`; it has no "
            "authentication, so it stays on loopback unless the operator says otherwise."
        ),
    )
    upload_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest an add-file upload may wait for its next bytes before it is dropped.",
    )
    upload_min_bytes_per_s: int = Field(
        default=4096,
        ge=0,
        description=(
            "Slowest average rate an add-file upload may keep once past its first "
            "upload_read_timeout_s seconds (0: no minimum)."
        ),
    )

    @property
    def outbound_allow(self) -> list[str]:
        """Every allow-list entry for user-supplied URLs (outbound plus the older crawl list)."""
        return [*self.outbound_allow_hosts, *self.crawl_allow_hosts]

    @property
    def resolved_secret_key_file(self) -> Path:
        """The file holding the key that encrypts stored secrets."""
        return (self.secret_key_file or self.home_dir / "secret.key").expanduser()

    def s3_server_credentials_allowed(self, database_name: str) -> bool:
        """Tell whether ``database_name``'s S3 sources may use the server's AWS credentials."""
        granted = self.s3_server_credentials_databases
        return "*" in granted or database_name in granted

    @property
    def home_dir(self) -> Path:
        """The home folder, user-expanded."""
        return self.home.expanduser()

    @property
    def resolved_catalog_url(self) -> str:
        """The catalog's SQLAlchemy URL."""
        return self.catalog_url or f"sqlite:///{self.home_dir / 'catalog.db'}"

    @property
    def resolved_chroma_path(self) -> Path:
        """The PersistentClient folder."""
        return (self.chroma_path or self.home_dir / "chroma").expanduser()

    @property
    def resolved_uploads_dir(self) -> Path:
        """The folder add-file uploads are stored in."""
        return (self.uploads_dir or self.home_dir / "uploads").expanduser()

    @property
    def resolved_model_dir(self) -> Path:
        """The folder models are looked up in first."""
        return (self.model_dir or self.home_dir / "models").expanduser()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear with ``get_settings.cache_clear``)."""
    return Settings()
