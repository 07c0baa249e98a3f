"""The compatibility page lists every checklist row of the API specification, and each row exists."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

import hatcher
import hatcher.api
import hatcher.core.utils
import hatcher.errors
import hatcher.testing
from hatcher.core import bundle, model_registry, url_templates
from hatcher.core.brood_url_handler import BroodURLHandler

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec" / "hatcher-python-api.md"
PAGE = ROOT / "docs" / "compatibility.rst"


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
    page = PAGE.read_text(encoding="utf-8")
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
