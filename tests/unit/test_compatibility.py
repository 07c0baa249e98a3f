"""The compatibility page lists every checklist row of the API and CLI specifications, and each row exists."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from types import ModuleType

import click
import pytest

import hatcher
import hatcher.api
import hatcher.core.utils
import hatcher.errors
import hatcher.testing
from hatcher.cli.context import GlobalOptions
from hatcher.cli.main import hatcher as hatcher_root
from hatcher.core import bundle, model_registry, url_templates
from hatcher.core.brood_url_handler import BroodURLHandler

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec" / "hatcher-python-api.md"
CLI_SPEC = SPEC.with_name("hatcher-cli.md")
PAGE = ROOT / "docs" / "compatibility.rst"
CLI_HEADING = "\nCommand line\n------------\n"


def checklist() -> list[str]:
    """The name cell of every row of the specification's checklist (section 16)."""
    if not SPEC.exists():
        pytest.skip("the shared specification is not beside this checkout")
    table = SPEC.read_text(encoding="utf-8").split("## 16. Checklist", 1)[1]
    cells = [line.strip().strip("|").split("|")[0].strip() for line in table.splitlines()]
    return [cell for cell in cells if cell.startswith("`")]


def namespace() -> dict[str, object]:
    """What the checklist's names refer to: modules, classes, and objects of an API-version-1 client."""
    client = hatcher.api.BroodClient.from_url("http://brood.test", api_version=1)
    organization = client.organization("acme")
    repository = organization.repository("dev")
    platform = repository.platform("rh7-x86_64")
    resource = platform.bundles.get("cp38", "mini", "1.0-1")
    names: dict[str, object] = {}
    for module in (model_registry, url_templates):
        names.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
    names.update({
        "hatcher": hatcher, "errors": hatcher.errors, "core": hatcher.core, "testing": hatcher.testing,
        "BroodClient": client, "Organization": organization, "User": organization.user("j@acme.org"),
        "Team": organization.team("devs"), "Repository": repository, "SinglePlatformRepository": platform,
        "BundleCollectionController": platform.bundles, "BundleResourceController": resource,
        "BundleResourceFileController": bundle.BundleResourceFileController(resource, "mini-1.0-1.bundle"),
        "BundleControllerFactory": bundle.BundleControllerFactory(repository, url_templates.URLS_V1),
        "BroodURLHandler": BroodURLHandler, "BroodBearerTokenAuth": hatcher.api.BroodBearerTokenAuth,
        "BroodClientAuth": hatcher.api.BroodClientAuth,
    })
    return names


def resolve(dotted: str, names: dict[str, object], anchor: object) -> tuple[object, object]:
    """Follow ``a.b.c`` and return ``(target, its owner)``.

    A bare name unknown at top level is looked up on the row's anchor (the owner of its first name).
    """
    first, *rest = dotted.split(".")
    owner = anchor
    target = names[first] if first in names else getattr(anchor, first)
    for part in rest:
        owner, target = target, getattr(target, part)
    return target, owner


def test_the_page_lists_every_checklist_row_as_implemented():
    page = PAGE.read_text(encoding="utf-8").split(CLI_HEADING)[0]
    for name in checklist():
        literal = re.sub(r"`([^`]+)`", r"``\1``", name)
        assert f"* - {literal}\n     - " in page, name
    assert page.count("- implemented\n") == len(checklist())


@pytest.mark.filterwarnings("ignore:BroodClient._api_version:DeprecationWarning")
def test_every_checklist_name_exists():
    names = namespace()
    for row in checklist():
        anchor: object = None
        for token in re.findall(r"`([^`]+)`", row):
            dotted = re.sub(r"\(.*", "", token).strip()
            if dotted.startswith("hatcher."):
                module, _, attribute = dotted.rpartition(".")
                getattr(__import__(module, fromlist=[attribute]), attribute)
                continue
            if not re.fullmatch(r"[A-Za-z_][\w.]*", dotted):
                continue  # an example value such as ``org/repo``
            target, owner = resolve(dotted, names, anchor)
            if anchor is None:
                anchor = target if isinstance(target, ModuleType) or "." not in dotted else owner


# -- the command line checklist ---------------------------------------------------------------------

def cli_checklist() -> list[str]:
    """The name cell of every row of the command line specification's checklist (section 8)."""
    if not CLI_SPEC.exists():
        pytest.skip("the shared specification is not beside this checkout")
    table = CLI_SPEC.read_text(encoding="utf-8").split("## 8. Checklist", 1)[1]
    cells = [re.split(r"(?<!\\)\|", line.strip().strip("|"))[0].strip() for line in table.splitlines()]
    return [cell.replace("\\|", "|") for cell in cells if "`" in cell]


def test_the_page_lists_every_cli_checklist_row_as_implemented():
    page = PAGE.read_text(encoding="utf-8")
    assert CLI_HEADING in page
    section = page.split(CLI_HEADING)[1]
    rows = cli_checklist()
    assert len(rows) == 59
    for name in rows:
        literal = re.sub(r"`([^`]+)`", r"``\1``", name)
        assert f"* - {literal}\n     - " in section, name
    assert section.count("- implemented\n") == len(rows)


def command_at(path: list[str], api_version: int) -> click.Command | None:
    """The command (or group) at ``path`` in the click tree of ``api_version``, or None."""
    command: click.Command | None = hatcher_root
    ctx = click.Context(hatcher_root, info_name="hatcher", obj=GlobalOptions(api_version=api_version))
    for name in path:
        if not isinstance(command, click.Group):
            return None
        command = command.get_command(ctx, name)
        if command is None:
            return None
        ctx = click.Context(command, info_name=name, parent=ctx)
    return command


def option_names(command: click.Command) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def parse_cli_row(row: str) -> tuple[list[str], list[str]]:
    """``(command path, options)`` named by a checklist row; ``global`` rows have an empty path."""
    text = row.split("`")[1]
    if row.startswith("global "):
        return [], [option for option in re.split(r"[/ ]", text) if option.startswith("-")]
    words = text.split()
    path = list(itertools.takewhile(lambda word: re.fullmatch(r"[a-z][a-z-]*", word), words))
    options = [part for word in words[len(path):] if word.startswith("[-")
               for part in word.strip("[]").split("/") if part.startswith("-")]
    return path, options


@pytest.mark.parametrize("api_version", [0, 1])
def test_parse_cli_row_examples(api_version):
    assert parse_cli_row("global `-u/--url`") == ([], ["-u", "--url"])
    assert parse_cli_row("`eggs batch-upload [--force] [--index/--no-index] [--index_timeout N]`") == (
        ["eggs", "batch-upload"], ["--force", "--index", "--no-index", "--index_timeout"])
    assert parse_cli_row("`teams repositories query`") == (["teams", "repositories", "query"], [])
    assert command_at(["eggs", "nothing"], api_version) is None


def test_every_cli_checklist_row_exists_in_the_click_tree():
    for row in cli_checklist():
        if row.startswith("`HATCHER_"):
            continue  # checked by test_environment_variables_use_the_hatcher_prefix
        path, options = parse_cli_row(row)
        found = [command for command in (command_at(path, version) for version in (0, 1)) if command is not None]
        assert found, f"{row}: no command {' '.join(path)!r} for API version 0 or 1"
        if not path:
            options = [option for option in options if option not in ("--version", "-h", "--help")]
        for option in options:
            assert any(option in option_names(command) for command in found), f"{row}: no option {option}"


def test_environment_variables_use_the_hatcher_prefix():
    import inspect

    from hatcher.cli import main

    assert 'auto_envvar_prefix="HATCHER"' in inspect.getsource(main.main)


def test_the_page_is_what_the_generator_makes() -> None:
    """``docs/compatibility.rst`` is generated by ``tools/make_compat_page.py``: no edit by hand drifts."""
    import importlib.util

    if not SPEC.exists():
        pytest.skip("the shared specification is not beside this checkout")
    spec = importlib.util.spec_from_file_location("make_compat_page", ROOT / "tools" / "make_compat_page.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render(str(SPEC), str(CLI_SPEC)) == PAGE.read_text(encoding="utf-8")
