"""``--help`` in a terminal: plain text, though docstrings and option help are reStructuredText for Sphinx.

Every command of both API versions is asked for its help; none may show RST markup. The
usage line of every group reads ``COMMAND [ARGS]...`` whatever the installed click version.
"""

from __future__ import annotations

import re
from typing import Iterator

import click
import pytest
from click.testing import CliRunner

from hatcher.cli.context import GlobalOptions
from hatcher.cli.main import hatcher
from hatcher.cli.output import plain_text

#: What reStructuredText markup looks like once click has wrapped it into a terminal's lines.
MARKUP = re.compile(r"``|:[a-z]+:`|`_|`[^`\s][^`]*`|\*\*\S|(?:^|\s)\*[^\s*'][^*]*\S\*(?:\s|$)|\S::$", re.M)


def command_paths(api_version: int) -> Iterator[tuple[str, ...]]:
    """Every command path below the root (groups included) for ``api_version``."""
    def walk(command: click.Command, ctx: click.Context, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from walk(sub, click.Context(sub, info_name=name, parent=ctx), (*path, name))

    root = click.Context(hatcher, info_name="hatcher", obj=GlobalOptions(api_version=api_version))
    yield from walk(hatcher, root, ())


def help_of(api_version: int, path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(hatcher, ["--api-version", str(api_version), *path, "--help"], prog_name="hatcher",
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("api_version", [0, 1])
def test_no_command_shows_rst_markup(api_version: int) -> None:
    paths = list(command_paths(api_version))
    assert len(paths) > 40  # the walk reaches every command, not only the groups
    shown = {" ".join(path) or "(root)": MARKUP.findall(help_of(api_version, path)) for path in paths}
    assert {path: found for path, found in shown.items() if found} == {}


def test_the_markup_is_still_in_the_docstrings_for_sphinx() -> None:
    upload = hatcher.get_command(click.Context(hatcher, obj=GlobalOptions()), "eggs").by_version[1]["upload"]
    assert "``--verify``" in upload.help
    text = help_of(1, ("eggs", "upload"))
    assert "With --verify an egg" in " ".join(text.split())
    assert MARKUP.search(upload.help)  # the pattern finds markup where there is some


def test_command_lists_are_shortened_after_the_markup_is_removed() -> None:
    lines = [line for line in help_of(1, ()).splitlines() if line.strip().startswith("import ")]
    # shortened with its markup, the line would end at "found in..."
    assert lines == ["  import         Upload an export (hatcher export) found in ROOT_DIR/v1..."]


@pytest.mark.parametrize(("api_version", "path"), [(0, ()), (1, ()), (1, ("eggs",)), (0, ("runtimes",)),
                                                   (1, ("teams", "members")), (1, ("server",))])
def test_group_usage_reads_command_args(api_version: int, path: tuple[str, ...]) -> None:
    expected = f"Usage: {' '.join(('hatcher', *path))} [OPTIONS] COMMAND [ARGS]..."
    assert help_of(api_version, path).splitlines()[0] == expected


def test_usage_errors_read_as_the_reference_prints_them() -> None:
    result = CliRunner().invoke(hatcher, ["-u", "http://127.0.0.1:1", "eggs", "upload", "--verif"],
                                prog_name="hatcher")
    assert (result.exit_code, result.stderr) == (2, (
        "Usage: hatcher eggs upload [OPTIONS] ORGANIZATION REPOSITORY PLATFORM FILENAME\n"
        "Try 'hatcher eggs upload -h' for help.\n\n"
        "Error: No such option: --verif (Possible options: --no-verify, --verify)\n"))
    result = CliRunner().invoke(hatcher, ["-u", "http://127.0.0.1:1", "--insecur"], prog_name="hatcher")
    assert result.stderr.splitlines()[-1] == "Error: No such option: --insecur Did you mean --insecure?"
    result = CliRunner().invoke(hatcher, ["-u", "http://127.0.0.1:1", "eggs", "nosuch"], prog_name="hatcher")
    assert result.stderr == ("Usage: hatcher eggs [OPTIONS] COMMAND [ARGS]...\nTry 'hatcher eggs -h' for help.\n\n"
                             "Error: No such command 'nosuch'.\n")


@pytest.mark.parametrize(("rst", "plain"), [
    ("With ``--verify`` an egg", "With --verify an egg"),
    ("``a\n   b``", "a\n   b"),
    (":option:`--force` and :ref:`the guide <guide>` and :func:`~hatcher.api.BroodClient.upload`",
     "--force and the guide and upload"),
    ("*emphasis*, **strong**, (*x*)", "emphasis, strong, (x)"),
    ("'*' means every repository; AWS_* variables; 2*3*4", "'*' means every repository; AWS_* variables; 2*3*4"),
    ("``*literal*`` kept", "*literal* kept"),
    ("`Brood <https://example.org>`_ and `label`_", "Brood and label"),
    ("For example::\n\n    hatcher eggs list\n\nThen ::\n", "For example:\n\n    hatcher eggs list\n\nThen\n"),
    (r"an \*escaped\* star", "an *escaped* star"),
])
def test_plain_text(rst: str, plain: str) -> None:
    assert plain_text(rst) == plain
