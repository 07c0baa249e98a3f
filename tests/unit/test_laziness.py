"""Laziness and presentation: navigators send nothing; reprs, str, dir() and no secret in any repr."""

from __future__ import annotations

import pytest
from model_http import ORG, REPO, platform_of, repository_of, sent
from unit_http import URL

from hatcher.api import BroodBearerTokenAuth, BroodClient, BroodClientAuth
from hatcher.artefacts.builders import build_bundle
from hatcher.core.bundle import BundleControllerFactory
from hatcher.core.url_templates import URLS_V1

SECRET = "s3cret"

#: id -> how to reach one object from a client (and a temporary directory), for both API versions
NAVIGATORS = {
    "organization": lambda client, tmp: client.organization(ORG),
    "repository": lambda client, tmp: repository_of(client),
    "platform": lambda client, tmp: platform_of(client),
    "user": lambda client, tmp: client.organization(ORG).user("jane@example.com"),
    "team": lambda client, tmp: client.organization(ORG).team("devs"),
}
#: the same, for the API version 1 bundle objects
BUNDLE_NAVIGATORS = {
    "bundles": lambda client, tmp: platform_of(client).bundles,
    "bundles.get": lambda client, tmp: platform_of(client).bundles.get("cp36", "mybundle", "1.0.0-1"),
    "bundles.from_file": lambda client, tmp: platform_of(client).bundles.from_file(build_bundle(tmp)),
    "factory.from_file": lambda client, tmp: BundleControllerFactory(repository_of(client), URLS_V1).from_file(
        build_bundle(tmp)),
    "factory.from_runtime_dict": lambda client, tmp: BundleControllerFactory(
        repository_of(client), URLS_V1).from_runtime_dict(
        {"implementation": "cpython", "version": "3.8.10+2", "platform": "rh7-x86_64"}, "mini", "1.0-1"),
}

#: id -> the public members the spec lists for that object (API version 0 / additions of version 1)
PUBLIC = {
    "organization": ({"name", "repository", "create_repository", "list_repositories", "user", "create_user",
                      "list_users", "metadata", "delete", "team", "create_team", "list_teams"}, set()),
    "repository": ({"organization_name", "name", "platform", "delete", "metadata", "list_platforms", "upload_app",
                    "upload_runtime", "reindex"}, {"upload_bundle"}),
    "platform": ({"name", "organization_name", "repository_name", "egg_index", "list_eggs", "egg_metadata",
                  "download_egg", "iter_download_egg", "delete_egg", "upload_egg", "reindex", "app_index",
                  "list_apps", "app_metadata", "runtime_index", "list_runtimes", "runtime_metadata",
                  "download_runtime", "iter_download_runtime"},
                 {"runtime_delete", "bundles", "bundle_index", "bundle_list", "bundle_metadata", "bundle_save",
                  "bundle_delete"}),
    "user": ({"organization_name", "email", "metadata", "delete"}, set()),
    "team": ({"organization_name", "name", "metadata", "delete", "list_repositories", "add_repository",
              "remove_repository", "query_repository_access", "list_users", "add_user", "remove_user",
              "query_user_access"}, set()),
    "bundles": (set(), {"platform", "url_handler", "urls", "index_path", "path", "index", "list", "get", "delete",
                        "from_file"}),
    "bundles.get": (set(), {"collection", "python_tag", "name", "version", "url_handler", "BUNDLE_EXTENSION",
                            "BUNDLE_RE", "canonical_filename", "lazy_dict", "metadata_path", "upload_path",
                            "metadata", "save", "delete"}),
    "bundles.from_file": (set(), {"bundle", "filepath", "upload", "name", "version", "python_tag"}),
}
CLIENT_PUBLIC = {"api_version", "from_url", "from_session", "organization", "create_organization",
                 "list_organizations", "create_api_token", "delete_api_token", "list_api_tokens", "list_platforms",
                 "list_python_tags", "list_available_repositories"}

REPRS = {
    "organization": "<Organization organization_name='enthought'>",
    "repository": "<Repository organization='enthought', repository='dev'>",
    "platform": "<SinglePlatformRepository organization='enthought', repository='dev', platform='rh5-x86_64'>",
    "user": "<User organization='enthought', email='jane@example.com'>",
    "team": "<Team organization='enthought', team='devs'>",
}
BUNDLE = ("<BundleResourceController organization=enthought repository=dev platform=rh5-x86_64 python_tag=cp36 "
          "name=mybundle version=1.0.0-1>")
BUNDLE_REPRS = {
    "bundles": "<BundleCollectionController organization=enthought repository=dev platform=rh5-x86_64>",
    "bundles.get": BUNDLE,
}
STRS = {"repository": "enthought/dev", "platform": "enthought/dev/rh5-x86_64",
        "bundles": "enthought/dev/rh5-x86_64/bundles",
        "bundles.get": "enthought/dev/rh5-x86_64/bundles/cp36/mybundle/1.0.0-1"}


def build_client(api_version, auth=("jane", SECRET), url=URL):
    """A client built while the strict mock is active."""
    return BroodClient.from_url(url, auth=auth, api_version=api_version)


# -- navigators send no request --------------------------------------------------------


@pytest.mark.parametrize("api_version", [0, 1])
@pytest.mark.parametrize("navigator", sorted(NAVIGATORS))
def test_navigators_send_no_request(mocked, tmp_path, api_version, navigator):
    # Given a strict mock with no registered response, and a client
    client = build_client(api_version)

    # When an object that does not exist on any server is reached
    obj = NAVIGATORS[navigator](client, str(tmp_path))

    # Then it is built locally and nothing is sent
    assert obj is not None
    assert sent(mocked) == []


@pytest.mark.parametrize("navigator", sorted(BUNDLE_NAVIGATORS))
def test_bundle_navigators_send_no_request(mocked, tmp_path, navigator):
    # Given
    client = build_client(1)

    # When
    obj = BUNDLE_NAVIGATORS[navigator](client, str(tmp_path))

    # Then
    assert obj is not None
    assert sent(mocked) == []


def test_building_clients_of_every_kind_sends_no_request(mocked):
    # When clients are built with each kind of credentials (the session token is deferred)
    for auth in [None, ("jane", SECRET), BroodBearerTokenAuth("tok-" + SECRET),
                 BroodClientAuth(URL, ("jane", SECRET)), BroodClientAuth(URL, "tok-" + SECRET)]:
        build_client(1, auth=auth)

    # Then
    assert sent(mocked) == []


# -- repr, str and dir -----------------------------------------------------------------


@pytest.mark.parametrize("navigator", sorted(REPRS))
def test_reprs_are_exact_and_identical_for_both_api_versions(tmp_path, navigator):
    # When
    reprs = {repr(NAVIGATORS[navigator](build_client(version), str(tmp_path))) for version in (0, 1)}

    # Then
    assert reprs == {REPRS[navigator]}


@pytest.mark.parametrize("navigator", sorted(BUNDLE_REPRS))
def test_bundle_reprs_are_exact(tmp_path, navigator):
    # When / Then
    assert repr(BUNDLE_NAVIGATORS[navigator](build_client(1), str(tmp_path))) == BUNDLE_REPRS[navigator]


def test_bundle_file_repr_nests_the_bundle_repr(tmp_path):
    # Given
    controller = BUNDLE_NAVIGATORS["bundles.from_file"](build_client(1), str(tmp_path))

    # Then
    assert repr(controller) == (
        "<BundleResourceFileController bundle=<BundleResourceController organization=enthought repository=dev "
        f"platform=rh5-x86_64 python_tag=cp38 name=mini version=1.0-1> filepath={tmp_path}/mini-1.0-1.bundle>")


@pytest.mark.parametrize("navigator", sorted(STRS))
def test_str_forms(tmp_path, navigator):
    # Given
    navigate = NAVIGATORS.get(navigator) or BUNDLE_NAVIGATORS[navigator]

    # When / Then
    assert str(navigate(build_client(1), str(tmp_path))) == STRS[navigator]
    if navigator in NAVIGATORS:
        assert str(navigate(build_client(0), str(tmp_path))) == STRS[navigator]


@pytest.mark.parametrize("api_version, navigator", [
    (version, navigator) for navigator in sorted(PUBLIC) for version in (0, 1) if version or navigator in NAVIGATORS])
def test_dir_lists_the_public_members_and_nothing_private(tmp_path, api_version, navigator):
    # Given
    v0_members, v1_members = PUBLIC[navigator]
    navigate = NAVIGATORS.get(navigator) or BUNDLE_NAVIGATORS[navigator]

    # When
    names = dir(navigate(build_client(api_version), str(tmp_path)))

    # Then
    assert v0_members | (v1_members if api_version else set()) <= set(names)
    assert [name for name in names if name.startswith("_")] == []
    if api_version == 0:
        assert v1_members.isdisjoint(names)


@pytest.mark.parametrize("api_version", [0, 1])
def test_client_dir_lists_the_public_members_and_nothing_private(api_version):
    # When
    names = dir(build_client(api_version))

    # Then
    assert CLIENT_PUBLIC <= set(names)
    assert [name for name in names if name.startswith("_")] == []


@pytest.mark.parametrize("name", ["bundles", "bundle_index", "bundle_list", "bundle_metadata", "bundle_save",
                                  "bundle_delete", "runtime_delete"])
def test_api_version_0_platforms_have_no_bundle_or_runtime_delete_members(client_v0, name):
    # When / Then
    with pytest.raises(AttributeError):
        getattr(platform_of(client_v0), name)


def test_api_version_0_repositories_have_no_upload_bundle(client_v0):
    # When / Then
    with pytest.raises(AttributeError):
        repository_of(client_v0).upload_bundle  # noqa: B018


# -- secrets ---------------------------------------------------------------------------


def reachable_objects(client, tmp_path):
    """The client, its transport and auth, and every object reachable from it."""
    objects = [client, client._url_handler, client._url_handler.session.auth]
    objects += [navigate(client, tmp_path) for navigate in NAVIGATORS.values()]
    if client.api_version == 1:
        objects += [navigate(client, tmp_path) for navigate in BUNDLE_NAVIGATORS.values()]
    return objects


@pytest.mark.parametrize("api_version", [0, 1])
@pytest.mark.parametrize("auth, url", [
    (BroodBearerTokenAuth("tok-" + SECRET), URL),
    (BroodClientAuth(URL, ("jane", SECRET)), URL),
    (BroodClientAuth(URL, "tok-" + SECRET), URL),
    (None, f"http://jane:{SECRET}@brood.test"),
], ids=["bearer-token", "session-password", "session-api-token", "url-userinfo"])
def test_no_repr_or_str_shows_a_password_or_token(tmp_path, api_version, auth, url):
    # Given a client whose session token is known as well
    if isinstance(auth, BroodClientAuth):
        auth.session_token = "sess-" + SECRET
    client = build_client(api_version, auth=auth, url=url)

    # When
    shown = [text for obj in reachable_objects(client, str(tmp_path)) for text in (repr(obj), str(obj))]

    # Then
    assert len(shown) >= 14
    assert [text for text in shown if SECRET in text] == []


def test_the_client_repr_names_only_the_server_and_version():
    # When / Then
    assert repr(build_client(1, url=f"http://jane:{SECRET}@brood.test/prefix")) == \
        "<BroodClient url='http://brood.test' api_version=1>"
    assert REPO in repr(repository_of(build_client(0)))
