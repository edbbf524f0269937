"""Server settings: one object, read from ``CHROMA_SYNC_*`` environment variables.

Everything a hosted-API client cannot send (the S3 endpoint, where Chroma lives, where the
catalog is stored) comes from here. The defaults put the whole embedded stack under one home
folder: a SQLite catalog, a Chroma ``PersistentClient`` and the local embedding model.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_OBJECT_BYTES = 200 * 1024 * 1024


class Settings(BaseSettings):
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
    max_object_bytes: int = Field(
        default=DEFAULT_MAX_OBJECT_BYTES,
        gt=0,
        description="Objects larger than this fail before download.",
    )
    embed_batch_size: int = Field(default=32, gt=0)

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
    def resolved_model_dir(self) -> Path:
        """The folder models are looked up in first."""
        return (self.model_dir or self.home_dir / "models").expanduser()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear with ``get_settings.cache_clear``)."""
    return Settings()
