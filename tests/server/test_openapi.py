"""``GET /openapi.json``: served without credentials, a valid OpenAPI 3.1 document, and complete.

The fuzzing against the document is ``tox -e fuzz`` (``tools/fuzz.py``); these tests keep the
document honest in the ordinary suite: every route the application serves is documented (a
new route without an entry in :data:`hatcher.server.openapi.OPERATIONS` fails here), every
operation documents the errors every request of its kind can get, and a few live answers
match their documented schemas.
"""

from __future__ import annotations

from typing import Any, Iterator

import jsonschema
import pytest
import requests
from fastapi.routing import APIRoute
from openapi_spec_validator import validate
from sqlalchemy.orm.exc import StaleDataError

from hatcher.artefacts import builders
from hatcher.core.url_templates import URLS_V1
from hatcher.server.app import create_app
from hatcher.server.errors import as_api_error
from hatcher.server.openapi import OPENAPI_PATH, build_document
from hatcher.server.runner import EmbeddedBrood
from hatcher.server.settings import ServerSettings
from hatcher.server.web.urls import is_web

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def document(brood: EmbeddedBrood) -> dict[str, Any]:
    """The document as the server serves it, without credentials."""
    response = requests.get(brood.url + OPENAPI_PATH, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every API route, also inside included routers (however this FastAPI version keeps them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            yield from _routes(route.routes)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield method.upper(), path, operation


def test_served_without_credentials_and_valid(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert document == build_document()
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))


def test_every_route_is_documented(tmp_path: Any, document: dict[str, Any]) -> None:
    app = create_app(ServerSettings(str(tmp_path)))
    try:
        # The web interface's pages (hatcher.server.web) are HTML, not API: not in the document.
        served = {(method, route.path) for route in _routes(app.routes) for method in route.methods
                  if not is_web(route.path)}
    finally:
        app.state.services.close()
    documented = {(method, path) for method, path, _ in _operations(document)}
    assert served - documented == set(), "routes without documentation (add them to openapi.OPERATIONS)"
    assert documented - served == set(), "documented operations the application does not serve"
    # Both API versions in full: the 41 v0 and 34 v1 endpoints of the REST specification, the v1
    # mirror of the 12 team endpoints, the v1 repository-wide re-index, and the audit log.
    assert sum(path.startswith("/api/v0/") for _, path in served) == 41
    assert sum(path.startswith("/api/v1/") for _, path in served) >= 34 + 12 + 1


def test_creating_a_user_in_a_missing_team_is_documented_as_404(document: dict[str, Any]) -> None:
    for version in (0, 1):
        operation = document["paths"][f"/api/v{version}/json/admin/organizations/{{organization_name}}/users"]["post"]
        assert "404" in operation["responses"]
        assert "404 when the organization or one of the teams does not exist" in operation["summary"]


def test_every_operation_documents_its_errors(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        statuses = set(operation["responses"])
        label = f"{method} {path}"
        assert any(status < "300" for status in statuses), label
        assert {"400", "408", "431"} <= statuses, label
        if operation["security"]:
            assert {"401", "429", "503", "507"} <= statuses, label
        else:
            assert path in ("/health", OPENAPI_PATH), label
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            assert {"400", "413"} <= statuses, label
        if "multipart/form-data" in body:
            assert {"404", "409"} <= statuses, label
        if "{organization_name}" in path:
            assert "404" in statuses, label
    throttled = document["components"]["responses"]["429"]
    assert throttled["headers"]["Retry-After"]["required"] is True
    for status, response in document["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, status


def _check(document: dict[str, Any], answer: requests.Response, path: str, method: str = "get") -> None:
    """Validate a live answer against the schema the document gives for its status."""
    response = document["paths"][path][method]["responses"][str(answer.status_code)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"], "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(answer.json())


def test_live_answers_match_their_schemas(brood: EmbeddedBrood, document: dict[str, Any],
                                          unique: Any) -> None:
    root = "/api/v1/json"
    token_name = unique("token")

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, brood.url + root + path, auth=brood.admin_auth, timeout=30, **kwargs)

    created = call("POST", "/auth/tokens/api", json={"name": token_name})
    assert created.status_code == 201
    _check(document, created, root + "/auth/tokens/api", "post")
    for path in ("/auth/tokens/api", "/metadata/platforms", "/metadata/user/repositories", "/admin/organizations"):
        answer = call("GET", path)
        assert answer.status_code == 200
        _check(document, answer, root + path)
    missing = call("GET", "/admin/organizations/no-such-org/repositories")
    assert missing.status_code == 404
    _check(document, missing, root + "/admin/organizations/{organization_name}/repositories")
    organization = unique("org")
    assert call("POST", "/admin/organizations", json={"name": organization, "description": "o"}).status_code == 201
    no_team = call("POST", f"/admin/organizations/{organization}/users",
                   json={"email": "new@example.org", "teams": ["ghosts"]})
    assert no_team.status_code == 404
    assert no_team.json()["error"] == f"No such team: '{organization}/ghosts'"
    _check(document, no_team, root + "/admin/organizations/{organization_name}/users", "post")
    anonymous = requests.get(brood.url + root + "/metadata/platforms", timeout=30)
    assert anonymous.status_code == 401
    _check(document, anonymous, root + "/metadata/platforms")
    assert call("DELETE", f"/auth/tokens/api/{token_name}").status_code == 204


# -- what the fuzzing found ------------------------------------------------------------------------


def test_rows_changed_by_a_concurrent_request_are_a_409() -> None:
    # A team deleted while another request removed one of its repositories: the ORM's DELETE of
    # the association rows matches fewer rows than it expected. It was a 500.
    mapped = as_api_error(StaleDataError("DELETE statement on table 'team_repositories' expected to delete 5 row(s)"))
    assert mapped is not None and mapped.status == 409


def test_a_malformed_range_is_ignored(brood: EmbeddedBrood, unique: Any, tmp_path: Any) -> None:
    # It was a plain-text 400 from Starlette; now the whole file, as RFC 9110 allows and the S3 store does.
    organization = unique("org")
    client = brood.client(api_version=1)
    client.create_organization(organization, "Ranges").create_repository("dev", "Development")
    egg = builders.build_egg(str(tmp_path), platform="rh7-x86_64", python_tag="cp38")
    client.organization(organization).repository("dev").platform("rh7-x86_64").upload_egg(egg)
    with open(egg, "rb") as stream:
        content = stream.read()
    url = brood.url + URLS_V1.data.eggs.download.format(
        organization_name=organization, repository_name="dev", platform="rh7-x86_64", python_tag="cp38",
        name="dummy", version="1.0.1-1")
    for value in ("", "bytes", "items=0-1", "bytes=a-b"):
        answer = requests.get(url, headers={"Range": value}, auth=brood.admin_auth, timeout=30)
        assert answer.status_code == 200 and answer.content == content, value
    answer = requests.get(url, headers={"Range": "bytes=0-9"}, auth=brood.admin_auth, timeout=30)
    assert answer.status_code == 206 and answer.content == content[:10]
    answer = requests.get(url, headers={"Range": f"bytes={len(content)}-"}, auth=brood.admin_auth, timeout=30)
    assert answer.status_code == 416
