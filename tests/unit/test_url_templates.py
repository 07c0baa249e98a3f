"""The URL-template trees of API versions 0 and 1, and the UrlBuilder API."""

from __future__ import annotations

import functools

import pytest

from hatcher.core.url_templates import (
    TOKENS_AUTH_PATH,
    URLS,
    URLS_V0,
    URLS_V1,
    UrlBuilder,
    display_url,
    split_base_url,
    urls_for,
)

VALUES = {
    "organization_name": "acme", "repository_name": "dev", "team_name": "devs", "email": "jane@acme.org",
    "name": "numpy", "version": "1.8.0-1", "platform": "rh7-x86_64", "python_tag": "cp27",
    "implementation": "cpython", "app_id": "mayavi.demo",
}
DATA = "/data/acme/dev"
TEAM = "/admin/teams/acme/devs"
META = "/metadata/acme/dev/rh7-x86_64"

#: Section 2.3 of the Python API spec: key -> path below the root (identical in v0 and v1).
COMMON = {
    "admin.organizations": "/admin/organizations",
    "admin.organizations.repositories": "/admin/organizations/acme/repositories",
    "admin.organizations.teams": "/admin/organizations/acme/teams",
    "admin.organizations.users": "/admin/organizations/acme/users",
    "admin.repositories": "/admin/repositories/acme/dev",
    "admin.teams": TEAM,
    "admin.teams.members": TEAM + "/members",
    "admin.teams.members.query": TEAM + "/members/jane@acme.org",
    "admin.teams.repositories": TEAM + "/repositories",
    "admin.teams.repositories.query": TEAM + "/repositories/dev",
    "admin.users.metadata": "/admin/users/acme/jane@acme.org",
    "tokens.api": "/auth/tokens/api",
    "tokens.api.delete": "/auth/tokens/api/numpy",
    "data.eggs.upload": DATA + "/rh7-x86_64/eggs/upload",
    "data.eggs.download": DATA + "/rh7-x86_64/cp27/eggs/numpy/1.8.0-1",
    "data.eggs.delete": DATA + "/rh7-x86_64/cp27/eggs/numpy/1.8.0-1",
    "data.eggs.re_index": DATA + "/rh7-x86_64/eggs/re-index",
    "data.runtimes.upload": DATA + "/rh7-x86_64/runtimes/upload",
    "data.apps.upload": DATA + "/rh7-x86_64/apps/upload",
    "indices.eggs": "/indices/acme/dev/rh7-x86_64/cp27/eggs",
    "indices.runtimes": "/indices/acme/dev/rh7-x86_64/runtimes",
    "indices.apps": "/indices/acme/dev/rh7-x86_64/apps",
    "metadata.artefacts.eggs": META + "/cp27/eggs/numpy/1.8.0-1",
    "metadata.artefacts.apps": META + "/cp27/apps/mayavi.demo/1.8.0-1",
    "metadata.platforms": "/metadata/platforms",
    "metadata.python_tags": "/metadata/python-tags",
    "metadata.python_tags.all": "/metadata/python-tags/all",
    "user.repositories": "/metadata/user/repositories",
}
V0_ONLY_FORMS = {
    "data.runtimes.download": DATA + "/rh7-x86_64/runtimes/cp27/1.8.0-1",
    "metadata.artefacts.runtimes": META + "/runtimes/cp27/1.8.0-1",
}
V1_FORMS = {
    "data.runtimes.download": DATA + "/rh7-x86_64/runtimes/cpython/1.8.0-1",
    "metadata.artefacts.runtimes": META + "/runtimes/cpython/1.8.0-1",
}
V1_ONLY = {
    "data.runtimes.delete": DATA + "/rh7-x86_64/runtimes/cpython/1.8.0-1",
    "data.bundles.upload": DATA + "/bundles/upload",
    "indices.bundles": "/indices/acme/dev/rh7-x86_64/bundles",
    "metadata.artefacts.bundles": META + "/bundles/cp27/numpy/1.8.0-1",
}
V0_TABLE = {**COMMON, **V0_ONLY_FORMS}
V1_TABLE = {**COMMON, **V1_FORMS, **V1_ONLY}


def node(tree: UrlBuilder, key: str) -> UrlBuilder:
    return functools.reduce(getattr, key.split("."), tree)


@pytest.mark.parametrize(("key", "path"), sorted(V0_TABLE.items()))
def test_v0_key_formats_to_the_spec_path(key, path):
    assert node(URLS_V0, key).format(**VALUES) == "/api/v0/json" + path


@pytest.mark.parametrize(("key", "path"), sorted(V1_TABLE.items()))
def test_v1_key_formats_to_the_spec_path(key, path):
    assert node(URLS_V1, key).format(**VALUES) == "/api/v1/json" + path


@pytest.mark.parametrize("key", sorted(V1_ONLY))
def test_v1_only_keys_are_absent_from_v0(key):
    with pytest.raises(AttributeError):
        node(URLS_V0, key)


def test_token_exchange_path_is_always_on_the_v1_root():
    assert TOKENS_AUTH_PATH == "/api/v1/json/auth/tokens/auth"
    with pytest.raises(AttributeError):
        _ = URLS_V0.tokens.auth


def test_path_values_are_substituted_verbatim():
    path = URLS_V1.data.runtimes.download.format(
        organization_name="acme", repository_name="my repo", platform="rh7-x86_64",
        implementation="cpython", version="3.8.10+2")
    assert path == "/api/v1/json/data/acme/my repo/rh7-x86_64/runtimes/cpython/3.8.10+2"


def test_trees_are_reachable_by_version():
    assert URLS.v0 is URLS_V0
    assert URLS.v1 is URLS_V1
    assert urls_for(0) is URLS_V0
    assert urls_for(1) is URLS_V1


# -- the UrlBuilder API ---------------------------------------------------------------


@pytest.fixture
def tree() -> UrlBuilder:
    return UrlBuilder(
        "root", "/r/{a}",
        UrlBuilder("zeta", "/z/{b}", UrlBuilder("leaf", "/{c}", c="deep"), b="child"),
        UrlBuilder("alpha", "/alpha"),
        a="top", b="root-b",
    )


def test_full_template_concatenates_ancestors(tree):
    assert tree.full_template == "/r/{a}"
    assert tree.zeta.leaf.full_template == "/r/{a}/z/{b}/{c}"
    assert tree.zeta.leaf.template == "/{c}"
    assert tree.zeta.leaf.name == "leaf"


def test_parent_and_children_links(tree):
    assert tree.parent is None
    assert tree.zeta.parent is tree
    assert list(tree.children) == ["zeta", "alpha"]
    assert tree.children["alpha"] is tree.alpha


def test_defaults_merge_over_ancestors(tree):
    assert tree.defaults == {"a": "top", "b": "root-b"}
    assert tree.zeta.leaf.defaults == {"a": "top", "b": "child", "c": "deep"}


def test_format_uses_defaults_and_kwargs_override_them(tree):
    assert tree.zeta.leaf.format() == "/r/top/z/child/deep"
    assert tree.zeta.leaf.format(a="x", c="y") == "/r/x/z/child/y"
    # the override did not stick
    assert tree.zeta.leaf.format() == "/r/top/z/child/deep"


def test_format_without_a_value_raises_key_error():
    with pytest.raises(KeyError, match="organization_name"):
        URLS_V0.admin.repositories.format(repository_name="dev")


def test_iteration_yields_node_then_children_sorted_by_name(tree):
    assert list(tree) == ["/r/{a}", "/r/{a}/alpha", "/r/{a}/z/{b}", "/r/{a}/z/{b}/{c}"]


def test_unknown_child_raises_attribute_error(tree):
    with pytest.raises(AttributeError, match="nope"):
        _ = tree.nope
    assert not hasattr(tree.alpha, "zeta")


def test_repr_shows_name_and_full_template(tree):
    assert repr(tree.zeta) == "<UrlBuilder 'zeta' '/r/{a}/z/{b}'>"


# -- base URL helpers -----------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("https://brood.test", ("https", "brood.test")),
    ("http://brood.test:8080/some/prefix?q=1#frag", ("http", "brood.test:8080")),
    ("brood.test", ("http", "brood.test")),
    ("brood.test:8080", ("http", "brood.test:8080")),
    ("brood.test/prefix", ("http", "brood.test")),
    ("https://jane:s3cret@brood.test", ("https", "jane:s3cret@brood.test")),
])
def test_split_base_url(url, expected):
    assert split_base_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("https://jane:s3cret@brood.test:8443/prefix", "https://brood.test:8443"),
    ("jane@brood.test", "http://brood.test"),
    ("http://brood.test/", "http://brood.test"),
])
def test_display_url_strips_userinfo_and_path(url, expected):
    assert display_url(url) == expected
