"""The GitHub source config: a git repository, its path filters and watched branches."""

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from sync_pipelines.outbound.checks import check_repository_name
from sync_pipelines.schemas.common import SpecModel, omitted_if_none, unique_items
from sync_pipelines.schemas.schedule import SyncSchedule

_BRANCH_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]")

UniqueStrings = Annotated[list[str] | None, AfterValidator(unique_items)]


def _base_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http", "git", "ssh", "file") or not (
        parts.netloc or parts.scheme == "file"
    ):
        raise ValueError("base_url must be an absolute https, http, git, ssh or file URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("base_url must not carry credentials; use token")
    return value.rstrip("/")


BaseUrl = Annotated[str | None, AfterValidator(_base_url)]


class GithubSourceConfig(SpecModel):
    """A git repository, ``owner/repo`` resolved against the server's git host.

    Attributes:
        base_url: Extension (optional): the git host base URL that ``owner/repo`` resolves
            against, overriding the server's ``github_base_url`` setting
            (``https://github.com``).
        exclude_globs: Extension (optional): paths never synced, even when included
            (gitignore-style globs, see ``sync_pipelines.git.globs``).
        watch_branches: Extension (optional): branches the git branch sensor syncs on push;
            requires ``watch_collection``.
        watch_collection: Extension (optional): the collection a watched branch syncs into, a
            template that may contain ``{branch}`` (required with more than one watched
            branch); see :func:`watch_collection_for`.
        schedule: Extension (optional): re-sync a branch into a collection on a cron schedule
            (:class:`~sync_pipelines.schemas.schedule.SyncSchedule`).
    """

    repository: str
    app_id: str | None = None
    include_globs: UniqueStrings = None
    base_url: BaseUrl = omitted_if_none()
    exclude_globs: UniqueStrings = omitted_if_none()
    watch_branches: UniqueStrings = omitted_if_none()
    watch_collection: str | None = Field(
        default=None, min_length=1, exclude_if=lambda v: v is None, validate_default=True
    )
    schedule: SyncSchedule | None = omitted_if_none()

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: SyncSchedule | None) -> SyncSchedule | None:
        if value is not None and value.target_collection_name is None:
            raise ValueError("target_collection_name is required for a GitHub schedule")
        return value

    @field_validator("watch_collection")
    @classmethod
    def _check_watch_collection(cls, value: str | None, info: ValidationInfo) -> str | None:
        branches = info.data.get("watch_branches")
        if value is None:
            if branches:
                raise ValueError("watch_branches requires watch_collection")
            return None
        try:
            value.format(branch="b")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("watch_collection may only contain the placeholder {branch}") from exc
        if branches and len(branches) > 1 and "{branch}" not in value:
            raise ValueError(
                "watch_collection must contain {branch} when watching several branches"
            )
        return value

    @field_validator("repository")
    @classmethod
    def _check_repository(cls, value: str) -> str:
        return check_repository_name(value)

    def watch_collection_for(self, branch: str) -> str:
        """Return the collection that ``branch`` syncs into (``{branch}`` made name-safe).

        Raises:
            ValueError: The source has no ``watch_collection``.
        """
        if self.watch_collection is None:
            raise ValueError(f"repository {self.repository} has no watch_collection")
        return self.watch_collection.format(branch=_BRANCH_UNSAFE.sub("-", branch))


class CreateGithubSourceConfig(GithubSourceConfig):
    """The ``github`` part of a create-source body: may carry a write-only ``token``.

    Attributes:
        token: Extension (optional, write-only): an access token for a private repository,
            sent as ``x-access-token`` basic auth; stored apart and never returned. Without it
            the server's ``github_token`` setting is used, if any.
    """

    token: str | None = Field(
        default=None, min_length=1, repr=False, exclude_if=lambda v: v is None
    )

    def stored(self) -> GithubSourceConfig:
        """Return the config without the token (what sources show)."""
        return GithubSourceConfig.model_validate(self.model_dump(exclude={"token"}))
