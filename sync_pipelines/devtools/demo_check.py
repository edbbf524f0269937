"""What ``scripts/check_demo.sh`` checks: the README's demo command and the demo's output.

Standard library only, so it runs with the system ``python3`` before any virtualenv exists:

    python3 sync_pipelines/devtools/demo_check.py command README.md
    python3 sync_pipelines/devtools/demo_check.py output OUTPUT_FILE
"""

import re
import sys
from pathlib import Path

SECTION = "## Two commands"
DEMO_SCRIPT = "scripts/demo.sh"
KINDS = ("github", "s3", "web")


class CheckError(Exception):
    """The README or the demo's output is not what the check expects."""


def readme_demo_command(readme: str) -> str:
    """The first line of the first ```bash block under "## Two commands" that runs the demo.

    Args:
        readme: The README's text.

    Returns:
        The command line (its ``# comment`` kept: ``bash -c`` ignores it).

    Raises:
        CheckError: No such section, no bash block in it, or no line running the demo there.
    """
    lines = readme.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == SECTION)
    except StopIteration:
        raise CheckError(f"README has no {SECTION!r} section") from None
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"##? ", lines[i])), len(lines))
    block: list[str] | None = None
    for line in lines[start + 1 : end]:
        if block is None:
            if line.strip() == "```bash":
                block = []
        elif line.strip().startswith("```"):
            break
        else:
            block.append(line)
    if block is None:
        raise CheckError(f"no ```bash block under {SECTION!r}")
    for line in block:
        if DEMO_SCRIPT in line.split("#", 1)[0]:
            return line.strip()
    raise CheckError(f"the first ```bash block under {SECTION!r} has no line running {DEMO_SCRIPT}")


def output_problems(output: str) -> list[str]:
    """What is missing from the demo's output (empty when it shows a complete demo).

    It needs, for each of github, s3 and web, an ``[kind] invocation ... complete in`` line and
    an ``[kind] query "..." -> collection: ...`` line, then the ``demo ok:`` line.
    """
    problems = []
    for kind in KINDS:
        tag = re.escape(f"[{kind}]")
        if not re.search(rf"^{tag} invocation \S+ \(.+\) complete in ", output, re.M):
            problems.append(f"no '[{kind}] invocation ... complete' line")
        if not re.search(rf'^{tag} query ".+" -> \S+: \S+', output, re.M):
            problems.append(f"no '[{kind}] query ...' result line")
    if not re.search(r"^demo ok: ", output, re.M):
        problems.append("no 'demo ok:' line")
    return problems


def main(argv: list[str]) -> int:
    """``command README`` prints the demo command; ``output FILE`` checks a captured output."""
    if len(argv) != 3 or argv[1] not in ("command", "output"):
        sys.stderr.write(f"usage: {argv[0]} command README.md | output OUTPUT_FILE\n")
        return 2
    text = Path(argv[2]).read_text(encoding="utf-8", errors="replace")
    if argv[1] == "command":
        try:
            sys.stdout.write(readme_demo_command(text) + "\n")
        except CheckError as exc:
            sys.stderr.write(f"check_demo: {argv[2]}: {exc}\n")
            return 1
        return 0
    problems = output_problems(text)
    for problem in problems:
        sys.stderr.write(f"check_demo: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
