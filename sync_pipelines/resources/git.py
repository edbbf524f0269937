"""Git as a Dagster resource: one bare mirror per GitHub source, under one folder.

The mirror of a source is reused across runs, so a re-sync fetches only new objects. The git host
and token come from the source (its ``base_url`` extension, its stored token or its GitHub
App's installation token) or else from the server's defaults. The server's own token and App
tokens go only to the configured git host over https; every connection git opens is bound to
the outbound policy (``sync_pipelines.outbound``).
"""

import os
import subprocess
from pathlib import Path

import dagster as dg
from pydantic import Field

from sync_pipelines.core.shards import DEFAULT_SHARD_BYTES, DEFAULT_SHARD_FILES, ShardLimits
from sync_pipelines.git import GitMirror
from sync_pipelines.github_app import DEFAULT_API_URL, GitHubAppError, app_auth
from sync_pipelines.outbound.checks import same_https_host
from sync_pipelines.outbound.git_transport import GitTransport
from sync_pipelines.outbound.policy import AddressPolicy
from sync_pipelines.schemas import Source
from sync_pipelines.settings import get_settings


class GitResource(dg.ConfigurableResource):
    """Where git mirrors live and which host and token sources use by default."""

    mirrors_dir: str | None = Field(
        default=None, description="Folder of the bare mirrors; default <home>/git."
    )
    default_base_url: str = Field(
        default="https://github.com",
        description="Git host base URL that 'owner/repo' resolves against.",
    )
    default_token: str | None = Field(
        default=None, description="Token for sources that stored none (pass as an EnvVar)."
    )
    timeout_seconds: float = Field(default=600, description="Limit for any one git command.")
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Outbound allow-list: hosts, addresses or CIDR networks reachable although "
        "private/loopback.",
    )
    local_roots: list[str] = Field(
        default_factory=list, description="Folders file:// repositories may lie under."
    )
    github_api_url: str = Field(
        default=DEFAULT_API_URL, description="GitHub REST API root App tokens are minted from."
    )
    github_app_private_key: str | None = Field(
        default=None, description="GitHub App private key, PEM text (pass as an EnvVar)."
    )
    github_app_private_key_file: str | None = Field(
        default=None, description="File holding the GitHub App private key, instead."
    )
    shard_max_files: int = Field(
        default=DEFAULT_SHARD_FILES,
        ge=1,
        description="Most changed files one step of a big sync processes (a shard).",
    )
    shard_max_bytes: int = Field(
        default=DEFAULT_SHARD_BYTES, ge=1, description="Most blob bytes one shard reads."
    )

    def shard_limits(self) -> ShardLimits:
        """The bounds a big sync's changed files are split by."""
        return ShardLimits(self.shard_max_files, self.shard_max_bytes)

    def token_for(self, source: Source, stored_token: str | None) -> str | None:
        """Return the token a mirror of ``source`` authenticates with.

        The source's stored token wins; else, when the source names a GitHub App
        (``app_id``), a fresh or cached installation token of that App; else
        ``default_token``. Server-wide tokens (default and App) are returned only when the
        repository lives on the configured git host over https.

        Args:
            source: A GitHub source.
            stored_token: The token stored for ``source``, if any.

        Raises:
            GitHubAppError: The source has an ``app_id`` but no App private key is configured
                or readable, or GitHub refused the App.
        """
        if stored_token:
            return stored_token
        home = self.server_token_host(source)
        if source.github is None or source.github.app_id is None:
            return self.default_token if home else None
        repository = source.github.repository
        if not home:
            raise GitHubAppError(
                f"GitHub App {source.github.app_id}, repository {repository}: App tokens are "
                f"sent only to {self.default_base_url} over https, not to "
                f"{source.github.base_url}"
            )
        key = self._app_private_key(source.github.app_id, repository)
        auth = app_auth(source.github.app_id, key, self.github_api_url)
        return auth.installation_token(repository)

    def _app_private_key(self, app_id: str, repository: str) -> str:
        if self.github_app_private_key:
            return self.github_app_private_key
        if self.github_app_private_key_file:
            path = Path(self.github_app_private_key_file).expanduser()
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                raise GitHubAppError(
                    f"GitHub App {app_id}, repository {repository}: cannot read "
                    f"github_app_private_key_file {path} ({exc.strerror})"
                ) from exc
        raise GitHubAppError(
            f"GitHub App {app_id}, repository {repository}: no App private key configured "
            "(set CHROMA_SYNC_GITHUB_APP_PRIVATE_KEY or CHROMA_SYNC_GITHUB_APP_PRIVATE_KEY_FILE)"
        )

    def server_token_host(self, source: Source) -> bool:
        """Tell whether ``source``'s repository is on the configured git host, over https."""
        return same_https_host(self.repository_url(source), self.default_base_url)

    def repository_url(self, source: Source) -> str:
        """Return the credential-free URL of ``source``'s repository.

        Raises:
            ValueError: ``source`` is not a GitHub source.
        """
        if source.github is None:
            raise ValueError(f"source {source.id} is not a github source")
        base = (source.github.base_url or self.default_base_url).rstrip("/")
        return f"{base}/{source.github.repository}"

    def mirror_for(self, source: Source, token: str | None) -> GitMirror:
        """Return the mirror of ``source`` (one folder per source id).

        Args:
            source: A GitHub source.
            token: The token to send (from :meth:`token_for`), if any.

        Returns:
            The mirror (not fetched yet).
        """
        root = Path(self.mirrors_dir) if self.mirrors_dir else get_settings().home_dir / "git"
        root = root.expanduser()
        url = self.repository_url(source)
        transport = GitTransport(
            AddressPolicy(self.allow_hosts),
            tuple(Path(p) for p in self.local_roots),
            script_dir=root,
        )
        return GitMirror(
            root / str(source.id),
            url,
            token=token,
            timeout=self.timeout_seconds,
            transport=lambda: transport.settings(url),
        )


def related(mirror: GitMirror, old_commit: str, new_commit: str) -> bool:
    """Return whether two commits of ``mirror`` share history (``git merge-base``)."""
    proc = subprocess.run(
        ["git", f"--git-dir={mirror.path}", "merge-base", old_commit, new_commit],
        capture_output=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        check=False,
    )
    return proc.returncode == 0
