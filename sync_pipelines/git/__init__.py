"""The git layer for GitHub sources: bare mirrors, trees, blobs, diffs and path globs.

Pure Python over the git CLI (no Dagster). ``GitMirror`` is the entry point; ``PathFilter``
decides which paths a source syncs.
"""

from sync_pipelines.git.cli import GitError, MissingCommitError
from sync_pipelines.git.globs import PathFilter
from sync_pipelines.git.mirror import GitMirror
from sync_pipelines.git.trees import Change, TreeEntry

__all__ = ["Change", "GitError", "GitMirror", "MissingCommitError", "PathFilter", "TreeEntry"]
