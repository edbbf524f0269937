"""``scripts/check_s3_walkthrough.sh``'s helper: the README's S3 walk-through block and checks.

Contract: the script runs every line of the README's block as written (each echoed first),
only the ``chroma-sync serve`` line gains free ports; a README without the section or the
block is refused; the output check names every missing step.
"""

import subprocess
from pathlib import Path

import pytest

from sync_pipelines.devtools.walkthrough_check import (
    EXPECTED,
    CheckError,
    main,
    output_problems,
    runnable_script,
    walkthrough_block,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_block_covers_every_step() -> None:
    block = walkthrough_block(README.read_text())
    text = "\n".join(block)
    for step in (
        "chroma-sync serve --with-s3 &",
        "chroma-sync token create",
        "chroma-sync s3 mb docs",
        "chroma-sync s3 put docs/security.md docs/deploy.md s3://docs/guides/",
        "chroma-sync s3 ls docs",
        "--object-key guides/security.md --wait",
        "--auto-sync direct",
        "chroma-sync invocations list",
        "chroma-sync query guides",
        "kill %1",
    ):
        assert step in text, step
    for name in ("security.md", "deploy.md"):
        assert (README.parent / "docs" / name).is_file()


def test_the_script_runs_the_lines_as_written_with_ports_on_serve() -> None:
    block = walkthrough_block(README.read_text())
    script = runnable_script(block, [1001, 1002, 1003, 1004])
    lines = script.splitlines()
    assert lines[0] == "set -euo pipefail"
    ran = [line for line in lines[1:] if not line.startswith("printf ")]
    serve = [line for line in ran if "chroma-sync serve" in line]
    assert serve == [
        next(line for line in block if "chroma-sync serve" in line).replace(
            "chroma-sync serve",
            "chroma-sync serve --api-port 1001 --dagster-port 1002 --s3-port 1003 "
            "--chroma-port 1004",
        )
    ]
    assert [line for line in ran if line not in serve] == [
        line for line in block if line.strip() and "chroma-sync serve" not in line
    ]
    assert subprocess.run(["bash", "-n", "-c", script], check=False).returncode == 0


def test_the_echoed_lines_survive_quotes() -> None:
    script = runnable_script(["chroma-sync serve &", "echo 'it'\"s\""], [1, 2, 3, 4])
    out = subprocess.run(
        ["bash", "-c", script.replace("chroma-sync serve", "true")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "$ echo 'it'\"s\"\n" in out


@pytest.mark.parametrize(
    ("readme", "reason"),
    [
        ("# x\n## Other\n```bash\nchroma-sync serve\n```\n", "no '## S3 walk-through' section"),
        ("## S3 walk-through\ntext\n## Next\n```bash\nx\n```\n", "no closed ```bash block"),
    ],
)
def test_a_readme_without_the_block_is_refused(readme: str, reason: str) -> None:
    with pytest.raises(CheckError, match=reason):
        walkthrough_block(readme)


def test_a_block_without_serve_is_refused() -> None:
    with pytest.raises(CheckError, match="no `chroma-sync serve` line"):
        runnable_script(["echo hi"], [1, 2, 3, 4])


def test_missing_steps_are_named(tmp_path: Path) -> None:
    assert len(output_problems("")) == len(EXPECTED)
    out = tmp_path / "out.txt"
    out.write_text("bucket docs created\nstopped\n")
    problems = output_problems(out.read_text())
    assert "no 'bucket docs created' from `s3 mb docs`" not in problems
    assert "no the query's best hit in guides/deploy.md" in problems
    assert main(["walkthrough_check", "output", str(out)]) == 1
    assert main(["walkthrough_check", "script", str(README)]) == 0
