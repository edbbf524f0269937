"""What ``scripts/check_s3_walkthrough.sh`` runs and checks: the README's S3 walk-through.

    python sync_pipelines/devtools/walkthrough_check.py script README.md > walkthrough.sh
    python sync_pipelines/devtools/walkthrough_check.py output OUTPUT_FILE

``script`` turns the first ```bash block under "## S3 walk-through" into a bash script that
echoes each line (``$ line``) before running it, under ``set -euo pipefail``. The lines run as
written, except that the ``chroma-sync serve`` line gets free ports (``--api-port``,
``--dagster-port``, ``--s3-port``, ``--chroma-port``) so the check never collides with a
server already running on the defaults. ``output`` checks what the walk-through printed.
Standard library only (the ports come from :mod:`sync_pipelines.devtools.ports` when the
project is importable, else from the kernel).
"""

import re
import socket
import sys
from pathlib import Path

SECTION = "## S3 walk-through"
SERVE = re.compile(r"(chroma-sync serve)\b")

#: (pattern, what is missing when it does not match); every one must match the output.
EXPECTED = (
    (r"^  S3 +http://127\.0\.0\.1:\d+", "serve's banner line with the S3 endpoint"),
    (r"access key \S+, secret key \S+", "serve's banner line with both S3 keys"),
    (r"create a bucket with: chroma-sync s3 mb ", "serve's banner hint for a first bucket"),
    (r"^bucket docs created$", "'bucket docs created' from `s3 mb docs`"),
    (r"^uploaded docs/security\.md -> s3://docs/guides/security\.md ", "the upload of security.md"),
    (r"^guides/deploy\.md +\d+ ", "guides/deploy.md in the `s3 ls` listing"),
    (r"^guides/security\.md +\d+ ", "guides/security.md in the `s3 ls` listing"),
    (r"^invocation \S+ complete in ", "the one-object invocation ending complete"),
    (r"^\S+ +complete in .*deploy\.md\b", "a complete auto-sync invocation of deploy.md"),
    (r"^1\. \S+ +distance \S+ +guides/deploy\.md", "the query's best hit in guides/deploy.md"),
    (r"^stopped$", "serve's 'stopped' line after `kill`"),
)


class CheckError(Exception):
    """The README has no S3 walk-through block the check can run."""


def walkthrough_block(readme: str) -> list[str]:
    """The lines of the first ```bash block under :data:`SECTION`.

    Raises:
        CheckError: No such section, or no bash block in it.
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
            return block
        else:
            block.append(line)
    raise CheckError(f"no closed ```bash block under {SECTION!r}")


def free_ports(count: int) -> list[int]:
    """``count`` free ports on 127.0.0.1 (their +10000 gRPC twins free too, when importable)."""
    try:
        from sync_pipelines.devtools.ports import free_port_block
    except ImportError:
        socks = [socket.socket() for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        ports = [int(sock.getsockname()[1]) for sock in socks]
        for sock in socks:
            sock.close()
        return ports
    return free_port_block(count)


def runnable_script(block: list[str], ports: list[int]) -> str:
    """The bash script running ``block``: each line echoed, then run; serve on ``ports``.

    Args:
        block: The README's lines.
        ports: API, Dagster UI, S3 and Chroma ports for the ``chroma-sync serve`` line.

    Raises:
        CheckError: The block has no ``chroma-sync serve`` line.
    """
    api, dagster, s3, chroma = ports
    flags = f"--api-port {api} --dagster-port {dagster} --s3-port {s3} --chroma-port {chroma}"
    out = ["set -euo pipefail"]
    served = False
    for line in block:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.append(f"printf '%s\\n' {_quote('$ ' + line.strip())}")
        if not served and SERVE.search(line.split("#", 1)[0]):
            line, served = SERVE.sub(rf"\1 {flags}", line, count=1), True
        out.append(line)
    if not served:
        raise CheckError(f"the ```bash block under {SECTION!r} has no `chroma-sync serve` line")
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def output_problems(output: str) -> list[str]:
    """What is missing from the walk-through's output (empty when every step showed)."""
    return [f"no {what}" for pattern, what in EXPECTED if not re.search(pattern, output, re.M)]


def main(argv: list[str]) -> int:
    """``script README`` prints the runnable script; ``output FILE`` checks a captured output."""
    if len(argv) != 3 or argv[1] not in ("script", "output"):
        sys.stderr.write(f"usage: {argv[0]} script README.md | output OUTPUT_FILE\n")
        return 2
    text = Path(argv[2]).read_text(encoding="utf-8", errors="replace")
    if argv[1] == "script":
        try:
            sys.stdout.write(runnable_script(walkthrough_block(text), free_ports(4)))
        except CheckError as exc:
            sys.stderr.write(f"check_s3_walkthrough: {argv[2]}: {exc}\n")
            return 1
        return 0
    problems = output_problems(text)
    for problem in problems:
        sys.stderr.write(f"check_s3_walkthrough: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
