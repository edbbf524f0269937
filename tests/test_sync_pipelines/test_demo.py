"""The demo's checks and home handling (the demo itself runs in CI via scripts/check_demo.sh).

Contract: the check finds the README's demo command in the first ```bash block of "## Two
commands" and fails with a reason otherwise; it accepts an output only with a complete line and a
query line for each of github, s3 and web plus ``demo ok:``; the demo empties only a previous demo
home (or an empty folder) and refuses any other folder.
"""

from pathlib import Path

import pytest

from sync_pipelines.devtools.demo import MARKER, DemoError, prepare_home
from sync_pipelines.devtools.demo_check import (
    CheckError,
    main,
    output_problems,
    readme_demo_command,
)

ROOT = Path(__file__).resolve().parents[2]

README = """# x

## Two commands

Intro.

```bash
bash scripts/demo.sh    # the demo
bash scripts/test.sh    # the tests
```

## Next

```bash
bash scripts/other.sh
```
"""

GOOD_OUTPUT = """demo home /tmp/h (emptied on every run)
[github] invocation 1f (acme/acme-sdk@main) complete in 3.1 s (10 chunks written)
[s3] invocation 2a (docs/a.md) complete in 4.0 s
[web] invocation 3b (http://127.0.0.1:1/docs/) complete in 5.2 s (5 chunks written)
[github] query "retry" -> code: acme/retry.py lines 1-9 (distance 0.7): def retry
[s3] query "refund" -> files: docs/a.md lines 1-3 (distance 1.0): # Refunds
[web] query "keys" -> site: http://127.0.0.1:1/docs/keys lines 1-2 (distance 0.5): # Keys
stack stopped
demo ok: github, s3 and web sources synced through the HTTP API and queried in 40.0 s
"""


def test_the_readme_command_is_the_demo_line_of_two_commands() -> None:
    command = readme_demo_command((ROOT / "README.md").read_text())
    assert command.startswith("bash scripts/demo.sh")


def test_extraction_takes_the_demo_line_of_the_first_bash_block_of_the_section() -> None:
    assert readme_demo_command(README) == "bash scripts/demo.sh    # the demo"


@pytest.mark.parametrize(
    ("readme", "reason"),
    [
        (README.replace("## Two commands", "## Three commands"), "no '## Two commands' section"),
        (README.replace("```bash\nbash scripts/demo", "```sh\nbash scripts/demo"), "no ```bash"),
        (
            README.replace("bash scripts/demo.sh    # the demo\n", ""),
            "has no line running scripts/demo.sh",
        ),
        (
            README.replace("bash scripts/demo.sh    # the demo", "# bash scripts/demo.sh"),
            "has no line running scripts/demo.sh",
        ),
    ],
)
def test_extraction_fails_loudly(readme: str, reason: str) -> None:
    with pytest.raises(CheckError, match=reason):
        readme_demo_command(readme)


def test_a_complete_output_passes() -> None:
    assert output_problems(GOOD_OUTPUT) == []


def test_missing_lines_are_named() -> None:
    output = "\n".join(
        line
        for line in GOOD_OUTPUT.splitlines()
        if not line.startswith(("[web] invocation", "[s3] query", "demo ok"))
    )
    assert output_problems(output) == [
        "no '[s3] query ...' result line",
        "no '[web] invocation ... complete' line",
        "no 'demo ok:' line",
    ]


def test_the_command_line_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert main(["demo_check", "command", str(readme)]) == 0
    assert capsys.readouterr().out == "bash scripts/demo.sh    # the demo\n"
    readme.write_text("# nothing\n")
    assert main(["demo_check", "command", str(readme)]) == 1
    assert "no '## Two commands' section" in capsys.readouterr().err
    out = tmp_path / "out.txt"
    out.write_text(GOOD_OUTPUT.replace("[github] invocation", "[github] INVOCATION"))
    assert main(["demo_check", "output", str(out)]) == 1
    assert capsys.readouterr().err == "check_demo: no '[github] invocation ... complete' line\n"


def test_prepare_home_empties_a_previous_demo_home(tmp_path: Path) -> None:
    home = prepare_home(tmp_path / "demo")
    (home / "catalog.db").write_text("old")
    assert prepare_home(home) == home
    assert sorted(p.name for p in home.iterdir()) == [MARKER]


def test_prepare_home_refuses_a_folder_that_is_not_a_demo_home(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(DemoError, match="exists and is not a demo home"):
        prepare_home(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
