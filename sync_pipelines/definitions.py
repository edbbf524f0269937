"""The one Dagster code location of chroma-sync (``workspace.yaml`` points here)."""

import dagster as dg

from sensors import ALL_SENSORS
from sync_pipelines.jobs import SYNC_JOBS
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.resources.git import GitResource
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.resources.uploads import UploadStoreResource
from sync_pipelines.resources.web import WebCrawlerResource
from sync_pipelines.scale_out import build_executor, build_io_manager
from sync_pipelines.settings import Settings, get_settings


def _secret(env_var: str, value: object | None) -> str | dg.EnvVar | None:
    """Pass secrets by environment variable name, so they never appear in run config."""
    return dg.EnvVar(env_var) if value is not None else None


def build_resources(settings: Settings) -> dict[str, object]:
    """Build the resources for ``settings`` (the embedded defaults unless configured)."""
    return {
        # A configured catalog URL may carry a password: pass it by name, like the secrets.
        "catalog": CatalogResource(
            url=dg.EnvVar("CHROMA_SYNC_CATALOG_URL")
            if settings.catalog_url
            else settings.resolved_catalog_url
        ),
        "chroma": ChromaResource(
            mode=settings.chroma_mode,
            path=str(settings.resolved_chroma_path),
            host=settings.chroma_host,
            port=settings.chroma_port,
            ssl=settings.chroma_ssl,
            tenant=settings.chroma_tenant,
            api_key=_secret("CHROMA_SYNC_CHROMA_API_KEY", settings.chroma_api_key),
        ),
        "embedder": EmbeddingResource(
            model_dir=str(settings.resolved_model_dir),
            cloud_api_key=_secret("CHROMA_SYNC_CHROMA_API_KEY", settings.chroma_api_key),
        ),
        "s3": SyncS3Resource(
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            allow_hosts=settings.outbound_allow,
            server_credentials_databases=list(settings.s3_server_credentials_databases),
        ),
        "uploads": UploadStoreResource(root=str(settings.resolved_uploads_dir)),
        "web": WebCrawlerResource(
            user_agent=settings.crawl_user_agent,
            allow_hosts=settings.outbound_allow,
            concurrency=settings.crawl_concurrency,
            timeout_s=settings.crawl_timeout_s,
            max_page_bytes=settings.crawl_max_page_bytes,
            max_retries=settings.crawl_max_retries,
            max_retry_after_s=settings.crawl_max_retry_after_s,
            shard_max_pages=settings.shard_max_files,
            shard_max_bytes=settings.shard_max_bytes,
        ),
        "git": GitResource(
            mirrors_dir=str(settings.home_dir / "git"),
            default_base_url=settings.github_base_url,
            default_token=_secret("CHROMA_SYNC_GITHUB_TOKEN", settings.github_token),
            allow_hosts=settings.outbound_allow,
            local_roots=[str(p) for p in settings.git_local_roots],
            github_api_url=settings.github_api_url,
            github_app_private_key=_secret(
                "CHROMA_SYNC_GITHUB_APP_PRIVATE_KEY", settings.github_app_private_key
            ),
            github_app_private_key_file=(
                str(settings.github_app_private_key_file)
                if settings.github_app_private_key_file
                else None
            ),
            shard_max_files=settings.shard_max_files,
            shard_max_bytes=settings.shard_max_bytes,
        ),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Assemble jobs, sensors, resources and the executor into the ``Definitions``."""
    settings = settings or get_settings()
    resources = build_resources(settings)
    io_manager = build_io_manager(settings)
    if io_manager is not None:
        resources["io_manager"] = io_manager
    return dg.Definitions(
        jobs=SYNC_JOBS,
        sensors=ALL_SENSORS,
        resources=resources,
        executor=build_executor(settings),
    )


defs = build_definitions()
