"""Git as a Dagster resource: one bare mirror per GitHub source, under one folder.

The mirror of a source is reused across runs, so a re-sync fetches only new objects. The git host
and token come from the source (its ``base_url`` extension, its stored token) or else from the
server's defaults.
"""

import os
import subprocess
from pathlib import Path

import dagster as dg
from pydantic import Field

from sync_pipelines.git import GitMirror
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
            token: The source's own token, if it stored one; else ``default_token`` is used.

        Returns:
            The mirror (not fetched yet).
        """
        root = Path(self.mirrors_dir) if self.mirrors_dir else get_settings().home_dir / "git"
        return GitMirror(
            root.expanduser() / str(source.id),
            self.repository_url(source),
            token=token or self.default_token,
            timeout=self.timeout_seconds,
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
