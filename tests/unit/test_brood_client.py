"""BroodClient: construction and every server-wide call, on both API versions."""

from __future__ import annotations

import pytest
import requests
from model_http import api, sent
from unit_http import URL, json_body

from hatcher.api import BroodClient
from hatcher.core.model_registry import InvalidApiVersion
from hatcher.core.organization import Organization

TOKENS = [
    {"name": "ci-uploader", "created": "2023-05-04T09:12:30.118204", "last_used": None},
    {"name": "alpha", "created": "2023-05-05T10:00:00", "last_used": "2023-06-01T08:00:00"},
]


# -- construction ----------------------------------------------------------------------


@pytest.mark.parametrize("api_version", [0, 1])
def test_from_url_builds_a_configured_transport_without_a_request(mocked, api_version):
    # Given / When a client is built from a URL with a path, credentials and no TLS check
    client = BroodClient.from_url(URL + "/ignored/prefix", auth=("jane", "s3cret"), verify_ssl=False,
                                  api_version=api_version)

    # Then it keeps scheme and host only, attaches the credentials, and sends nothing
    handler = client._url_handler
    assert client.api_version == api_version
    assert handler.base_url == URL
    assert handler.session.auth == ("jane", "s3cret")
    assert handler.session.verify is False
    assert handler.session.headers["User-Agent"].startswith("hatcher/")
    assert sent(mocked) == []


def test_from_url_defaults_to_api_version_0_and_tls_verification():
    # When
    client = BroodClient.from_url(URL)

    # Then
    assert client.api_version == 0
    assert client._url_handler.session.verify is True
    assert client._url_handler.session.auth is None


def test_from_session_uses_the_callers_session_unchanged(mocked):
    # Given a session configured by the caller
    session = requests.Session()
    session.headers["X-Custom"] = "yes"

    # When
    client = BroodClient.from_session(URL, session, api_version=1)

    # Then the very same session is used, and nothing is sent
    assert client._url_handler.session is session
    assert client.api_version == 1
    assert sent(mocked) == []


def test_requests_go_through_the_session_given_to_from_session(mocked):
    # Given
    session = requests.Session()
    session.headers["X-Custom"] = "yes"
    client = BroodClient.from_session(URL, session)
    mocked.get(api(0, "/metadata/platforms"), json={"platforms": []})

    # When
    client.list_platforms()

    # Then
    assert mocked.calls[0].request.headers["X-Custom"] == "yes"


@pytest.mark.parametrize("api_version, error", [(2, InvalidApiVersion), (-1, ValueError)])
def test_unsupported_api_versions_are_refused(api_version, error):
    # When / Then
    with pytest.raises(error):
        BroodClient.from_url(URL, api_version=api_version)


def test_deprecated_api_version_alias_warns_and_returns_the_version(client_v1):
    # When / Then
    with pytest.warns(DeprecationWarning):
        assert client_v1._api_version == 1


# -- organizations ---------------------------------------------------------------------


def test_create_organization_posts_name_and_description(mocked, client):
    # Given
    url = api(client.api_version, "/admin/organizations")
    mocked.post(url)

    # When
    organization = client.create_organization("initech", "Initech engineering")

    # Then
    assert sent(mocked) == [f"POST {url}"]
    assert json_body(mocked.calls[0]) == {"name": "initech", "description": "Initech engineering"}
    assert mocked.calls[0].request.headers["Content-Type"] == "application/json"
    assert isinstance(organization, Organization)
    assert organization.name == "initech"


def test_list_organizations_returns_the_names_sorted(mocked, client):
    # Given
    url = api(client.api_version, "/admin/organizations")
    mocked.get(url, json={"organizations": ["initech", "acme", "enthought"]})

    # When
    names = client.list_organizations()

    # Then
    assert names == ["acme", "enthought", "initech"]
    assert sent(mocked) == [f"GET {url}"]


# -- API tokens ------------------------------------------------------------------------


def test_create_api_token_returns_the_decoded_response(mocked, client):
    # Given
    url = api(client.api_version, "/auth/tokens/api")
    mocked.post(url, json={"name": "ci-uploader", "token": "b7e3c1d0"})

    # When
    token = client.create_api_token("ci-uploader")

    # Then
    assert token == {"name": "ci-uploader", "token": "b7e3c1d0"}
    assert sent(mocked) == [f"POST {url}"]
    assert json_body(mocked.calls[0]) == {"name": "ci-uploader"}


def test_list_api_tokens_returns_the_tokens_in_server_order(mocked, client):
    # Given
    url = api(client.api_version, "/auth/tokens/api")
    mocked.get(url, json={"tokens": TOKENS})

    # When / Then
    assert client.list_api_tokens() == TOKENS
    assert sent(mocked) == [f"GET {url}"]


def test_delete_api_token_sends_delete_with_force_false(mocked, client):
    # Given
    url = api(client.api_version, "/auth/tokens/api/ci-uploader")
    mocked.delete(url, status=204)

    # When
    result = client.delete_api_token("ci-uploader")

    # Then
    assert result is None
    assert sent(mocked) == [f"DELETE {url}?force=False"]
    assert mocked.calls[0].request.body is None


# -- server metadata -------------------------------------------------------------------


def test_list_platforms_returns_the_server_order(mocked, client):
    # Given
    url = api(client.api_version, "/metadata/platforms")
    mocked.get(url, json={"platforms": ["rh7-x86_64", "osx-arm64", "win-x86_64"]})

    # When / Then
    assert client.list_platforms() == ["rh7-x86_64", "osx-arm64", "win-x86_64"]
    assert sent(mocked) == [f"GET {url}"]


@pytest.mark.parametrize("kwargs, suffix", [({}, ""), ({"list_all": False}, ""), ({"list_all": True}, "/all")])
def test_list_python_tags_uses_the_all_endpoint_only_when_asked(mocked, client, kwargs, suffix):
    # Given
    url = api(client.api_version, "/metadata/python-tags" + suffix)
    mocked.get(url, json={"python_tags": ["cp38", "cp27", "py3"]})

    # When / Then
    assert client.list_python_tags(**kwargs) == ["cp38", "cp27", "py3"]
    assert sent(mocked) == [f"GET {url}"]


@pytest.mark.parametrize("include_indexable", [False, True])
def test_list_available_repositories_v0_lets_the_server_filter(mocked, client_v0, include_indexable):
    # Given
    url = api(0, "/metadata/user/repositories")
    mocked.get(url, json={"repositories": ["initech/dev", "enthought/free"]})

    # When
    names = client_v0.list_available_repositories(include_indexable=include_indexable)

    # Then the query is always sent and the names come back unchanged
    assert names == ["initech/dev", "enthought/free"]
    assert sent(mocked) == [f"GET {url}?include_indexable={include_indexable}"]


def test_list_available_repositories_v0_default_sends_include_indexable_false(mocked, client_v0):
    # Given
    url = api(0, "/metadata/user/repositories")
    mocked.get(url, json={"repositories": []})

    # When
    client_v0.list_available_repositories()

    # Then
    assert sent(mocked) == [f"GET {url}?include_indexable=False"]


V1_REPOSITORIES = [
    {"name": "initech/dev", "access": "organization_administrator", "description": "Development builds"},
    {"name": "enthought/commercial", "access": "read_index", "description": "Commercial packages"},
    {"name": "enthought/free", "access": "read_repository", "description": "Free packages"},
]


@pytest.mark.parametrize("kwargs, expected", [
    ({}, ["initech/dev", "enthought/free"]),
    ({"include_indexable": False}, ["initech/dev", "enthought/free"]),
    ({"include_indexable": True}, ["initech/dev", "enthought/commercial", "enthought/free"]),
])
def test_list_available_repositories_v1_filters_read_index_client_side(mocked, client_v1, kwargs, expected):
    # Given
    url = api(1, "/metadata/user/repositories")
    mocked.get(url, json={"repositories": V1_REPOSITORIES})

    # When
    names = client_v1.list_available_repositories(**kwargs)

    # Then no query is sent, and names come in server order
    assert names == expected
    assert sent(mocked) == [f"GET {url}"]


def test_http_errors_propagate_as_requests_errors(mocked, client):
    # Given
    mocked.get(api(client.api_version, "/admin/organizations"), status=403, json={"error": "Forbidden"})

    # When / Then
    with pytest.raises(requests.HTTPError) as info:
        client.list_organizations()
    assert info.value.response.status_code == 403
