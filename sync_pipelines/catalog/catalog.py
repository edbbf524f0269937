"""The ``Catalog``: typed access to sources, credentials and invocations."""

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from sync_pipelines.catalog.engine import make_engine
from sync_pipelines.catalog.invocation_batches import InvocationBatchesMixin
from sync_pipelines.catalog.invocations import InvocationsMixin
from sync_pipelines.catalog.progress import ProgressMixin
from sync_pipelines.catalog.s3_objects import S3ObjectsMixin
from sync_pipelines.catalog.sources import SourcesMixin
from sync_pipelines.catalog.tables import Base
from sync_pipelines.catalog.tokens import TokensMixin
from sync_pipelines.catalog.web_pages import WebPagesMixin


class Catalog(
    SourcesMixin,
    InvocationsMixin,
    InvocationBatchesMixin,
    TokensMixin,
    WebPagesMixin,
    S3ObjectsMixin,
    ProgressMixin,
):
    """The sync catalog on any SQLAlchemy database: sources, invocations, API tokens.

    Tables are created on construction (``create_all``); schema migrations (alembic) are a
    follow-up. Datetimes are timezone-aware UTC. Secrets are stored encrypted (plain-text
    rows of older catalogs are encrypted on opening) and readable only through
    :meth:`get_aws_secret` and :meth:`get_git_token`.
    """

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open (and create if needed) the catalog; encrypt secrets still stored as plain text.

        Args:
            url: SQLAlchemy URL; ``None`` uses the settings' ``resolved_catalog_url``.
            engine: An existing engine to use instead of ``url``.
        """
        self._engine = engine if engine is not None else make_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        Base.metadata.create_all(self._engine)
        self.encrypt_plain_secrets()

    @property
    def engine(self) -> Engine:
        """The underlying engine."""
        return self._engine

    def ping(self) -> bool:
        """Whether the database answers (for ``/health``)."""
        try:
            with self._engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()
