"""Path globs for GitHub sources: the exact semantics documented in ``sync_pipelines.git.globs``.

Contract: gitignore-style patterns over repository-relative paths: a slash-free pattern
matches a name at any depth, a pattern with an inner or leading slash is anchored, ``**``
spans zero or more directories, a pattern matching a directory matches everything under it,
``*``/``?``/classes never cross ``/``, matching is case-sensitive; ``PathFilter`` includes
everything without include globs, otherwise the last matching include decides (``!`` negates),
and a matching exclude always wins unless a later ``!`` exclude re-admits the path.
"""

import pytest

from sync_pipelines.git import PathFilter
from sync_pipelines.git.globs import compile_glob

GLOBS = [
    # pattern, path, matches
    ("*.md", "README.md", True),
    ("*.md", "docs/a/b.md", True),
    ("*.md", "docs/a/b.mdx", False),
    ("*.md", "README.MD", False),
    ("*.md", ".hidden.md", True),
    ("/README.md", "README.md", True),
    ("/README.md", "docs/README.md", False),
    ("docs/*.md", "docs/a.md", True),
    ("docs/*.md", "docs/sub/a.md", False),
    ("docs/*.md", "x/docs/a.md", False),
    ("docs", "docs/a/b.md", True),
    ("docs", "x/docs/a.md", True),
    ("docs", "docsite/a.md", False),
    ("docs/", "docs/a.md", True),
    ("docs/", "docs", False),
    ("docs/**", "docs/a/b/c.txt", True),
    ("docs/**", "x/docs/a.txt", False),
    ("**/*.py", "setup.py", True),
    ("**/*.py", "src/pkg/mod.py", True),
    ("**/test_*.py", "tests/unit/test_x.py", True),
    ("src/**/*.py", "src/a.py", True),
    ("src/**/*.py", "src/a/b/c.py", True),
    ("src/**/*.py", "lib/src/a.py", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/xb", False),
    ("**", "anything/at/all.txt", True),
    ("a**b", "axxb", True),
    ("a**b", "ax/xb", False),
    ("file?.txt", "file1.txt", True),
    ("file?.txt", "file10.txt", False),
    ("a?b", "a/b", False),
    ("[abc].txt", "b.txt", True),
    ("[!abc].txt", "b.txt", False),
    ("[!abc].txt", "d.txt", True),
    ("[a-c]/x", "b/x", True),
    ("x[/]y", "x/y", False),
    ("\\*.txt", "*.txt", True),
    ("\\*.txt", "a.txt", False),
    ("[unclosed", "[unclosed", True),
    ("a+b(c).txt", "a+b(c).txt", True),
    ("src/*", "src/a/b.py", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), GLOBS)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(path)) is expected
    assert PathFilter([pattern]).matches(path) is expected


FILTERS = [
    # include, exclude, path, matches
    (None, None, "any/path.bin", True),
    ([], [], "any/path.bin", True),
    (["*.md"], None, "a/b.md", True),
    (["*.md"], None, "a/b.py", False),
    (["*.md", "*.py"], None, "a/b.py", True),
    (["docs/**"], ["**/drafts/**"], "docs/guide.md", True),
    (["docs/**"], ["**/drafts/**"], "docs/drafts/wip.md", False),
    (None, ["*.lock", "node_modules"], "web/node_modules/x/index.js", False),
    (None, ["*.lock", "node_modules"], "web/src/index.js", True),
    (["**/*.py", "!tests/**"], None, "src/a.py", True),
    (["**/*.py", "!tests/**"], None, "tests/test_a.py", False),
    (["!tests/**"], None, "README.md", True),
    (["!tests/**"], None, "tests/x.md", False),
    (["src/**", "!src/gen/**", "src/gen/keep.py"], None, "src/gen/keep.py", True),
    (["src/**", "!src/gen/**", "src/gen/keep.py"], None, "src/gen/other.py", False),
    (None, ["*.md", "!README.md"], "README.md", True),
    (None, ["*.md", "!README.md"], "docs/a.md", False),
    (["*.md"], ["*.md"], "a.md", False),
    (["/README.md"], None, "/README.md", True),
]


@pytest.mark.parametrize(("include", "exclude", "path", "expected"), FILTERS)
def test_path_filter(
    include: list[str] | None, exclude: list[str] | None, path: str, expected: bool
) -> None:
    assert PathFilter(include, exclude).matches(path) is expected


@pytest.mark.parametrize("pattern", ["", "/", "//", "!"])
def test_empty_globs_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="empty glob"):
        PathFilter([pattern])
