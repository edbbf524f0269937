r"""Which repository paths a source syncs: include and exclude globs with gitignore semantics.

Paths are repository-relative and ``/``-separated (``docs/guide/intro.md``). A pattern:

- ``*`` matches any run of characters except ``/`` (leading dots included); ``?`` one such
  character; ``[abc]``, ``[a-z]``, ``[!a-z]`` (or ``[^a-z]``) one character of a class;
  ``\x`` matches ``x`` literally. Matching is case-sensitive.
- ``**`` as a whole segment spans directories: ``**/x`` is ``x`` at any depth, ``a/**/b``
  is ``b`` zero or more directories below ``a``, ``a/**`` is everything inside ``a``. A ``**``
  inside a segment (``a**b``) is just two ``*``.
- Without a ``/`` (other than a trailing one) a pattern matches a name at any depth:
  ``*.md`` matches ``README.md`` and ``docs/a/b.md``. With a ``/`` at the start or in the
  middle it is anchored at the repository root: ``/README.md`` is only the top-level one,
  ``docs/*.md`` only files directly in the top-level ``docs``.
- A pattern that matches a directory matches every file below it: ``docs`` and ``docs/``
  both match ``docs/a/b.md``; a trailing ``/`` only restricts the pattern to directories.
- A leading ``!`` negates: within one list the last matching pattern decides.

``PathFilter(include, exclude).matches(path)`` is true when the path is included and not
excluded. Included: no include list (``None`` or empty) includes everything; otherwise the
last matching include pattern decides, and a path that matches none is included only when every
include pattern is negated (``["!tests/**"]`` means "everything but tests"). Excluded: the last
matching exclude pattern decides; a path that matches none is not excluded.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    negated: bool


def _translate_segment(segment: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and index + 1 < len(segment):
            index += 1
            out.append(re.escape(segment[index]))
        elif char == "[":
            end = index + 1
            if end < len(segment) and segment[end] in "!^":
                end += 1
            if end < len(segment) and segment[end] == "]":
                end += 1
            end = segment.find("]", end)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[index + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\")
                out.append(f"(?!/)[{'^' if negate else ''}{body}]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile one glob (without ``!``) to a regex that full-matches the paths it selects.

    Args:
        pattern: A glob as described in this module's docstring.

    Returns:
        A compiled regex; use ``fullmatch`` on a repository-relative path.

    Raises:
        ValueError: The pattern is empty or only slashes.
    """
    dir_only = pattern.endswith("/")
    body = pattern.strip("/")
    if not body:
        raise ValueError(f"empty glob {pattern!r}")
    anchored = pattern.startswith("/") or "/" in body
    segments = body.split("/")
    last = len(segments) - 1
    parts: list[str] = []
    need_separator = False
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == last:
                parts.append("/.*" if index else ".*")
            elif index == 0:
                parts.append("(?:.*/)?")
            else:
                parts.append("(?:/.*)?/")
            need_separator = False
            continue
        parts.append(("/" if need_separator else "") + _translate_segment(segment))
        need_separator = True
    prefix = "" if anchored else "(?:.*/)?"
    suffix = "/.*" if dir_only else "(?:/.*)?"
    return re.compile(prefix + "".join(parts) + suffix, re.DOTALL)


def _compile(patterns: Sequence[str] | None) -> list[_Pattern]:
    compiled: list[_Pattern] = []
    for pattern in patterns or []:
        negated = pattern.startswith("!")
        compiled.append(_Pattern(compile_glob(pattern[1:] if negated else pattern), negated))
    return compiled


def _last_match(patterns: list[_Pattern], path: str) -> _Pattern | None:
    for pattern in reversed(patterns):
        if pattern.regex.fullmatch(path):
            return pattern
    return None


class PathFilter:
    """Decides which repository paths a source syncs (semantics in the module docstring).

    Args:
        include_globs: Paths to sync; ``None`` or empty means every path.
        exclude_globs: Paths never to sync, even when included.

    Raises:
        ValueError: A pattern is empty.
    """

    def __init__(
        self,
        include_globs: Sequence[str] | None = None,
        exclude_globs: Sequence[str] | None = None,
    ) -> None:
        self._include = _compile(include_globs)
        self._exclude = _compile(exclude_globs)
        self._include_by_default = all(p.negated for p in self._include)

    def matches(self, path: str) -> bool:
        """Return whether ``path`` (repository-relative, ``/``-separated) is synced."""
        path = path.lstrip("/")
        included = _last_match(self._include, path)
        if included is None and not self._include_by_default:
            return False
        if included is not None and included.negated:
            return False
        excluded = _last_match(self._exclude, path)
        return excluded is None or excluded.negated
