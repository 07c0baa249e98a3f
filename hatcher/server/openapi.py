"""The OpenAPI 3.1 document of the server, served at ``GET /openapi.json`` without credentials.

The routes parse their bodies by hand, so FastAPI cannot describe them; the document is
built from :data:`OPERATIONS` instead, one compact entry per operation (method, URL-template
node, request, success answer, the errors it can answer), for API v0 and v1. Paths come from
:mod:`hatcher.core.url_templates`, so every path is still spelled once. The errors any request
can get (400, 408, 431), those of credentials (401, 429, 503, 507) and of a JSON body (413) are
added to each entry; path and query parameters carry examples naming the data
``tools/fuzz.py`` seeds, so that generated requests reach real artefacts.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Optional

import attr

from hatcher import __version__
from hatcher.core.url_templates import HEALTH_PATH, TOKENS_AUTH_PATH, UrlBuilder, urls_for
from hatcher.server.security import ROLES, SCOPE_ROLES

#: Where the document is served.
OPENAPI_PATH = "/openapi.json"

# -- schema helpers -------------------------------------------------------------------------------

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
NUMBER: dict[str, Any] = {"type": "number"}
OPTIONAL_STRING: dict[str, Any] = {"type": ["string", "null"]}
DATE_TIME: dict[str, Any] = {"type": "string", "description": "ISO 8601 date-time, UTC, without a zone"}
SHA256: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
#: A name the server stores (organization, repository, team, e-mail...): the rules of ``check_name``.
NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^/\\]+$",
                        "description": "No '/', '\\\\', '..' nor control characters"}
#: A boolean query flag as hatcher sends it (Python's spelling); the server also reads the others.
FLAG: dict[str, Any] = {"type": "string", "enum": ["True", "False", "true", "false", "1", "0", "yes", "no"]}


def ref(name: str) -> dict[str, Any]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict[str, Any], **keywords: Any) -> dict[str, Any]:
    """An array of ``items``."""
    return {"type": "array", "items": items, **keywords}


def obj(required: dict[str, Any], optional: Optional[dict[str, Any]] = None, closed: bool = False) -> dict[str, Any]:
    """An object with ``required`` and ``optional`` properties; ``closed`` refuses any other key."""
    schema: dict[str, Any] = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def mapping(values: dict[str, Any], depth: int = 1) -> dict[str, Any]:
    """An object keyed by names, ``depth`` levels deep, whose leaves are ``values``."""
    for _ in range(depth):
        values = {"type": "object", "additionalProperties": values}
    return values


_EGG_FIELDS = {
    "build": INTEGER, "egg_basename": STRING, "filename": STRING, "full_version": STRING, "md5": STRING,
    "mtime": NUMBER, "name": STRING, "packages": array(STRING), "platform_abi": OPTIONAL_STRING,
    "product": OPTIONAL_STRING, "python": OPTIONAL_STRING, "python_tag": OPTIONAL_STRING, "sha256": STRING,
    "size": INTEGER, "type": {"const": "egg"}, "version": STRING,
}
_RUNTIME_V0_FIELDS = {
    "build": INTEGER, "build_system_version": STRING, "file_format": STRING, "filename": STRING,
    "full_version": STRING, "language": STRING, "platform": STRING, "python_tag": STRING, "version": STRING,
    "sha256": STRING, "md5": STRING, "size": INTEGER,
}
_RUNTIME_V1_FIELDS = {
    "abi": STRING, "filename": STRING, "implementation": STRING, "language_version": STRING, "platform": STRING,
    "python_tag": OPTIONAL_STRING, "version": STRING, "sha256": STRING, "md5": STRING, "size": INTEGER,
}
_BUNDLE_FIELDS = {"python_tag": STRING, "name": STRING, "full_version": STRING, "version": STRING,
                  "build": INTEGER, "platform": STRING, "sha256": STRING}
_ARTEFACT_IDENTITY = {"id": STRING, "version": STRING, "build": INTEGER, "python_tag": STRING, "sha256": STRING}


def _schemas() -> dict[str, Any]:
    """The component schemas: requests first, then answers."""
    role = {"type": "string", "enum": list(ROLES)}
    name_description = {**obj({"name": NAME, "description": STRING}, closed=True),
                        "examples": [{"name": "initech", "description": "Initech engineering"}]}
    return {
        # -- requests
        "NameDescription": name_description,
        "NewUser": {**obj({"email": {**NAME, "pattern": r"^[^/\\\s]+@[^/\\\s]+$"}},
                          {"teams": array(NAME, uniqueItems=True)}, closed=True),
                    "examples": [{"email": "raj@acme.org", "teams": ["readers"]}],
                    "description": "'teams' names existing teams of the organization (404 otherwise)"},
        "NewTeam": {**obj({"name": NAME}, {"group": role, "role": role, "repositories": array(NAME, uniqueItems=True)},
                          closed=True),
                    "oneOf": [{"required": ["group"]}, {"required": ["role"]}],
                    "examples": [{"name": "uploaders", "group": "upload_repository", "repositories": ["dev"]}],
                    "description": "Exactly one of 'group' and 'role' (the same thing, two spellings)"},
        "NewApiToken": {**obj({"name": {**NAME, "maxLength": 64}}, {
            "scopes": {"type": ["array", "null"], "minItems": 1, "maxItems": 100, "items": {
                "type": "string", "pattern": rf"^({'|'.join(SCOPE_ROLES)}):[^/*]+/[^/]+$",
                "description": "ROLE:ORGANIZATION/REPOSITORY (REPOSITORY may be *)"}},
            "expires": {"type": ["string", "null"], "format": "date-time",
                        "description": "ISO 8601, UTC unless it has an offset; in the future"},
        }, closed=True), "examples": [{"name": "ci-reader", "scopes": ["read_repository:acme/dev"],
                                       "expires": "2099-01-01T00:00:00Z"}]},
        "Reindex": {**obj({"eggs": array(obj({"name": STRING, "version": STRING, "python_tag": STRING},
                                             closed=True), minItems=1, uniqueItems=True)}, closed=True),
                    "examples": [{"eggs": [{"name": "libyaml", "version": "0.2.5-1", "python_tag": "none"}]}]},
        "ShaOnlyData": obj({"sha256": SHA256}, closed=True),
        "RuntimeV0Data": obj({"language": STRING, "filename": STRING, "build_system_version": STRING,
                              "version": STRING, "file_format": STRING, "build": INTEGER, "sha256": SHA256},
                             {"upstream_version": STRING}, closed=True),
        "BundleData": obj({"sha256": SHA256, "bundle_name": STRING, "bundle_version": STRING,
                           "bundle_build": INTEGER}, closed=True),
        # -- answers
        "Error": obj({"error": STRING}),
        "Health": obj({"status": {"type": "string", "enum": ["ok", "degraded"],
                                  "description": "degraded: the free space is below the reserve, uploads get 507"},
                       "version": STRING},
                      {"free_space": {"type": "integer", "description": "Bytes free on the disk of the blob "
                                                                            "files (file stores)"},
                       "min_free_space": {"type": "integer", "description": "The reserve, in bytes"}}),
        "Organizations": obj({"organizations": array(STRING)}),
        "NameAndDescription": obj({"name": STRING, "description": STRING}),
        "RepositoryNames": obj({"repositories": array(STRING)}),
        "RepositoryAccessList": obj({"repositories": array(obj({"name": STRING, "access": role,
                                                                  "description": OPTIONAL_STRING}))}),
        "User": obj({"email": STRING, "organization": STRING, "teams": array(STRING)}),
        "Teams": obj({"teams": array(obj({"name": STRING, "group": role}))}),
        "Team": obj({"name": STRING, "group": role, "repositories": array(STRING), "members": array(STRING)}),
        "Members": obj({"members": array(STRING)}),
        "ApiToken": obj({"name": STRING, "token": STRING},
                        {"scopes": {"type": ["array", "null"], "items": STRING}, "expires": OPTIONAL_STRING}),
        "ApiTokens": obj({"tokens": array(obj(
            {"name": STRING, "created": DATE_TIME, "last_used": {**DATE_TIME, "type": ["string", "null"]}},
            {"scopes": {"type": ["array", "null"], "items": STRING}, "expires": OPTIONAL_STRING}))}),
        "SessionToken": obj({"token": STRING, "expires": DATE_TIME}),
        "Platforms": obj({"platforms": array(STRING)}),
        "PythonTags": obj({"python_tags": array(STRING)}),
        "Uploaded": obj({"kind": {"type": "string", "enum": ["egg", "runtime_v0", "runtime", "app", "bundle"]},
                         "platform": STRING, "python_tag": STRING, "name": STRING, "version": STRING,
                         "filename": STRING, "sha256": STRING, "size": INTEGER, "enabled": BOOLEAN}),
        "Reindexed": obj({"enabled": INTEGER}),
        "EggMetadata": obj({**_EGG_FIELDS, "enabled": BOOLEAN, "change_date": DATE_TIME},
                           {"abi_tag": OPTIONAL_STRING, "platform_tag": OPTIONAL_STRING,
                            "metadata_version": OPTIONAL_STRING, "summary": STRING}),
        "EggIndex": mapping(obj({**_EGG_FIELDS, "available": BOOLEAN})),
        "RuntimeV0": obj(_RUNTIME_V0_FIELDS, {"mtime": NUMBER}),
        "RuntimeV0Index": mapping(ref("RuntimeV0"), depth=3),
        "RuntimeV1": obj(_RUNTIME_V1_FIELDS, {"build_revision": OPTIONAL_STRING,
                                              "metadata_version": OPTIONAL_STRING, "mtime": NUMBER}),
        "RuntimeV1Index": mapping(ref("RuntimeV1"), depth=2),
        "AppMetadata": obj(_ARTEFACT_IDENTITY),
        "AppIndex": mapping(obj({"name": OPTIONAL_STRING, "description": STRING, "platform": STRING,
                                 **_ARTEFACT_IDENTITY}), depth=4),
        "BundleMetadata": obj({**_BUNDLE_FIELDS, "data": {"type": "object"}}),
        "BundleIndex": mapping(obj(_BUNDLE_FIELDS), depth=4),
        "AuditEvents": obj({"events": array(obj({
            "id": INTEGER, "time": DATE_TIME, "actor": OPTIONAL_STRING, "action": STRING, "target": STRING,
            "organization": OPTIONAL_STRING, "address": OPTIONAL_STRING, "outcome": STRING},
            {"detail": {"type": ["object", "null"]}})),
            "next": {"type": ["integer", "null"]}}),
        "OpenApiDocument": obj({"openapi": STRING, "info": {"type": "object"}, "paths": {"type": "object"}}),
    }


# -- parameters -----------------------------------------------------------------------------------

@attr.s(frozen=True, auto_attribs=True)
class Param:
    """A path, query or header parameter: its schema, what it means, and an example."""

    schema: dict[str, Any]
    description: str
    example: Optional[str] = None


#: Path parameters by name; an operation may replace the example (``Operation.examples``).
PATH_PARAMETERS = {
    "organization_name": Param(NAME, "Organization", "acme"),
    "repository_name": Param(NAME, "Repository of the organization", "dev"),
    "platform": Param({**NAME, "pattern": r"^[a-z]+[0-9]*[-_][a-z0-9_]+$"},
                      "Platform, e.g. rh7-x86_64 (also rh7_x86_64, rh7-64)", "rh7-x86_64"),
    "python_tag": Param({**NAME, "pattern": r"^(none|[a-z]{2}[0-9][0-9_]*)$"}, "PEP 425 python tag, or none",
                        "cp38"),
    "name": Param(NAME, "Name", "pyyaml"),
    "version": Param(NAME, "Version, <upstream>-<build>", "5.4.1-2"),
    "implementation": Param(NAME, "Runtime implementation", "cpython"),
    "app_id": Param(NAME, "App id", "mayavi.demo"),
    "team_name": Param(NAME, "Team of the organization", "readers"),
    "email": Param(NAME, "User e-mail", "jane@acme.org"),
}

FORCE = Param(FLAG, "Repository deletion: also delete its artefacts; ignored elsewhere", "False")
OVERWRITE = Param(FLAG, "Replace an artefact of the same identity instead of answering 409", "False")
ENABLED = Param(FLAG, "Index the egg at once (default); False leaves it for a re-index", "True")
INCLUDE_INDEXABLE = Param(FLAG, "List names only, adding repositories the caller can only read the index of",
                          "True")
RANGE = Param(STRING, "A byte range of the file (RFC 9110): 206, or 416 when unsatisfiable", "bytes=0-99")
IF_NONE_MATCH = Param(STRING, "ETag of a copy the client holds: 304 when it is current")

# -- responses ------------------------------------------------------------------------------------

#: Errors, by status: the description, and the headers that come with them.
_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("Invalid request: malformed HTTP, or a bad body, parameter or artefact", {}),
    401: ("Missing, malformed or wrong credentials",
          {"WWW-Authenticate": {"schema": STRING, "description": 'Basic realm="brood"'}}),
    403: ("Authenticated, but without the rights this needs (a scoped API token: no administration or tokens)",
          {}),
    404: ("No such resource, or not visible to the caller", {}),
    408: ("The request line and headers (30 s), or a JSON body (30 s), did not arrive in time; "
          "the connection is closed", {}),
    409: ("Conflicts with what exists: the name is taken, the artefact exists, the repository is not empty", {}),
    413: ("The JSON body is larger than 1 MiB", {}),
    429: ("Too many failed password checks of this account from this address: try again later",
          {"Retry-After": {"schema": INTEGER, "description": "Seconds until the lockout ends", "required": True}}),
    431: ("The request line and headers are larger than 64 KiB; the connection is closed", {}),
    503: ("The database or the blob store is unavailable: try again later", {}),
    507: ("No space left on the server for what the request stores (a full disk or quota): an upload that "
          "does not fit above the free-space reserve is refused before its body is read, and the connection "
          "closed; a database write (credentials record their use too) can fail the same way", {}),
}
#: What any request can get (see docs/server.rst, Request limits): malformed, too slow, too large a head.
_ANY_REQUEST = {400, 408, 431}


def _error_response(status: int) -> dict[str, Any]:
    description, headers = _ERRORS[status]
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


_BINARY = {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}
_FILE_HEADERS = {"Content-Disposition": {"schema": STRING, "description": 'attachment; filename="<file name>"'},
                 "ETag": {"schema": STRING, "description": "The file's sha256, quoted"}}
#: The answers of a download besides the errors.
DOWNLOAD = {
    200: {"description": "The file", "headers": _FILE_HEADERS, "content": _BINARY},
    206: {"description": "The requested range of the file (several ranges: multipart/byteranges)",
          "headers": _FILE_HEADERS, "content": {**_BINARY, "multipart/byteranges": {"schema": STRING}}},
    302: {"description": "S3 stores with presigned downloads: where to fetch the file",
          "headers": {"Location": {"schema": STRING, "description": "A signed URL"}}},
    416: {"description": "The range cannot be satisfied",
          "headers": {"Content-Range": {"schema": STRING, "description": "bytes */<size>"}}},
}


def index_answers(schema: str) -> dict[int, Any]:
    """The answers of an index: the JSON document (maybe gzip-encoded), or 304."""
    headers = {"ETag": {"schema": STRING, "description": "One per representation (plain or gzip)"}}
    return {200: {**_json(schema, "The index"), "headers": headers},
            304: {"description": "The copy named by If-None-Match is current", "headers": headers}}


# -- operations -----------------------------------------------------------------------------------

@attr.s(frozen=True, auto_attribs=True)
class Multipart:
    """An upload: ``file`` (the artefact) and ``data`` (JSON of the component schema ``data``)."""

    data: str


@attr.s(frozen=True, auto_attribs=True)
class Operation:
    """One operation, served on each of ``versions`` at the path ``select(urls_for(version))``.

    ``ok`` is the success status with a component schema name (JSON), None (no body) or a
    dict of answers; ``errors`` the statuses it can answer besides those every request can
    get (400, 408, 431), every authenticated one (401, 429, 503, 507) and every JSON body (413).
    ``links`` maps a link's name to the target operation's id (without version) and its
    parameters' runtime expressions.
    """

    id: str
    method: str
    select: Callable[[UrlBuilder], Any]
    summary: str
    tag: str
    ok: tuple[int, Any]
    errors: tuple[int, ...] = ()
    body: Any = None
    query: dict[str, Param] = attr.Factory(dict)
    headers: dict[str, Param] = attr.Factory(dict)
    examples: dict[str, str] = attr.Factory(dict)
    links: dict[str, tuple[str, dict[str, str]]] = attr.Factory(dict)
    versions: tuple[int, ...] = (0, 1)
    auth: bool = True


def _path(path: str) -> Callable[[UrlBuilder], str]:
    return lambda urls: path


_ADMIN = (403, 404)
#: Changes of teams and memberships: 409 when a concurrent request changed the same rows.
_ADMIN_CHANGE = (403, 404, 409)
_EGG = {"name": "pyyaml", "version": "5.4.1-2"}
_RUNTIME_V0 = {"platform": "rh7-64", "python_tag": "cp27", "version": "2.7.3-1"}
_RUNTIME_V1 = {"version": "3.8.10+2"}
_APP = {"version": "4.6.0-1"}
_BUNDLE = {"name": "data_science", "version": "2.1.0-3"}
_TOKEN = {"name": "ci-uploader"}
_ARTEFACT_READ = (400, 403, 404)
_ORGANIZATION = "$request.path.organization_name"

OPERATIONS: list[Operation] = [
    # -- the server
    Operation("health", "GET", _path(HEALTH_PATH), "Is the server up? (no credentials)", "server",
              (200, "Health"), versions=(1,), auth=False),
    Operation("openapi", "GET", _path(OPENAPI_PATH), "This document (no credentials)", "server",
              (200, "OpenApiDocument"), versions=(1,), auth=False),
    # -- organizations, repositories, users
    Operation("listOrganizations", "GET", lambda u: u.admin.organizations, "Organizations the caller belongs to",
              "admin", (200, "Organizations"), (403,)),
    Operation("createOrganization", "POST", lambda u: u.admin.organizations, "Create an organization (superusers)",
              "admin", (201, "NameAndDescription"), (403, 409), body="NameDescription", links={
                  "listRepositories": ("listRepositories", {"organization_name": "$response.body#/name"}),
                  "listTeams": ("listTeams", {"organization_name": "$response.body#/name"})}),
    Operation("listRepositories", "GET", lambda u: u.admin.organizations.repositories,
              "Repositories of an organization the caller may see", "admin", (200, "RepositoryNames"), (404,)),
    Operation("createRepository", "POST", lambda u: u.admin.organizations.repositories,
              "Create a repository (organization administrators)", "admin", (201, "NameAndDescription"),
              (*_ADMIN, 409), body="NameDescription", links={
                  "deleteRepository": ("deleteRepository", {"organization_name": _ORGANIZATION,
                                                            "repository_name": "$response.body#/name"})}),
    Operation("deleteRepository", "DELETE", lambda u: u.admin.repositories,
              "Delete a repository; 409 when it holds artefacts, unless force=True", "admin", (204, None),
              (400, *_ADMIN, 409), query={"force": FORCE}),
    Operation("createUser", "POST", lambda u: u.admin.organizations.users,
              "Add a user (created without a password when new) to an organization and to existing teams of it; "
              "404 when the organization or one of the teams does not exist", "admin", (201, "User"),
              (*_ADMIN, 409), body="NewUser", links={
                  "getUser": ("getUser", {"organization_name": "$response.body#/organization",
                                          "email": "$response.body#/email"}),
                  "deleteUser": ("deleteUser", {"organization_name": "$response.body#/organization",
                                                "email": "$response.body#/email"})}),
    Operation("getUser", "GET", lambda u: u.admin.users.metadata, "A member of an organization", "admin",
              (200, "User"), _ADMIN),
    Operation("deleteUser", "DELETE", lambda u: u.admin.users.metadata,
              "Remove a user from an organization and its teams (the account stays)", "admin", (204, None),
              _ADMIN_CHANGE, query={"force": FORCE}),
    # -- teams (the historic v0 API, mirrored on v1)
    Operation("listTeams", "GET", lambda u: u.admin.organizations.teams, "Teams of an organization", "teams",
              (200, "Teams"), _ADMIN),
    Operation("createTeam", "POST", lambda u: u.admin.organizations.teams,
              "Create a team with a role, optionally granting it repositories", "teams", (201, "Team"),
              (*_ADMIN, 409), body="NewTeam", links={
                  "getTeam": ("getTeam", {"organization_name": _ORGANIZATION, "team_name": "$response.body#/name"}),
                  "listTeamMembers": ("listTeamMembers", {"organization_name": _ORGANIZATION,
                                                          "team_name": "$response.body#/name"}),
                  "deleteTeam": ("deleteTeam", {"organization_name": _ORGANIZATION,
                                                "team_name": "$response.body#/name"})}),
    Operation("getTeam", "GET", lambda u: u.admin.teams, "A team: role, repositories and members", "teams",
              (200, "Team"), _ADMIN),
    Operation("deleteTeam", "DELETE", lambda u: u.admin.teams, "Delete a team (its members stay)", "teams",
              (204, None), _ADMIN_CHANGE, query={"force": FORCE}),
    Operation("listTeamRepositories", "GET", lambda u: u.admin.teams.repositories,
              "Repositories a team grants access to", "teams", (200, "RepositoryNames"), _ADMIN),
    Operation("addTeamRepository", "PUT", lambda u: u.admin.teams.repositories.query,
              "Grant a team access to a repository", "teams", (204, None), _ADMIN_CHANGE),
    Operation("queryTeamRepository", "GET", lambda u: u.admin.teams.repositories.query,
              "204 when the team grants access to the repository, 404 when not", "teams", (204, None), _ADMIN),
    Operation("removeTeamRepository", "DELETE", lambda u: u.admin.teams.repositories.query,
              "Revoke a team's access to a repository", "teams", (204, None), _ADMIN_CHANGE, query={"force": FORCE}),
    Operation("listTeamMembers", "GET", lambda u: u.admin.teams.members, "Members of a team", "teams",
              (200, "Members"), _ADMIN),
    Operation("addTeamMember", "PUT", lambda u: u.admin.teams.members.query,
              "Add a member of the organization to a team", "teams", (204, None), _ADMIN_CHANGE),
    Operation("queryTeamMember", "GET", lambda u: u.admin.teams.members.query,
              "204 when the user is a member of the team, 404 when not", "teams", (204, None), _ADMIN),
    Operation("removeTeamMember", "DELETE", lambda u: u.admin.teams.members.query,
              "Remove a member from a team", "teams", (204, None), _ADMIN_CHANGE, query={"force": FORCE}),
    # -- the audit log (v1)
    Operation("listAuditEvents", "GET", lambda u: u.admin.audit,
              "Audit events, newest first (superusers; organization administrators for theirs)", "admin",
              (200, "AuditEvents"), (400, 403), versions=(1,), query={
                  "organization": Param(NAME, "Only the events of this organization", "acme"),
                  "since": Param({"type": "string", "format": "date-time"}, "Only events at or after this time"),
                  "action": Param(STRING, "Only events of this action (egg.delete), or subject (egg)"),
                  "limit": Param({"type": "integer", "minimum": 1, "maximum": 1000},
                                 "At most this many events (default 100)"),
                  "before": Param({"type": "integer", "minimum": 1},
                                  "Only events older than this id: the previous page's 'next'"),
              }),
    # -- tokens
    Operation("createApiToken", "POST", lambda u: u.tokens.api,
              "Create an API token for the caller (the only time its secret is shown)", "tokens",
              (201, "ApiToken"), (403, 409), body="NewApiToken", links={
                  "deleteApiToken": ("deleteApiToken", {"name": "$response.body#/name"})}),
    Operation("listApiTokens", "GET", lambda u: u.tokens.api, "The caller's API tokens, without secrets", "tokens",
              (200, "ApiTokens"), (403,)),
    Operation("deleteApiToken", "DELETE", lambda u: u.tokens.api.delete, "Delete one of the caller's API tokens",
              "tokens", (204, None), (403, 404), query={"force": FORCE}, examples=_TOKEN),
    Operation("createSessionToken", "POST", _path(TOKENS_AUTH_PATH),
              "Exchange credentials (Basic, API token or session token) for a session token", "tokens",
              (200, "SessionToken"), (403,), versions=(1,)),
    # -- server metadata
    Operation("listPlatforms", "GET", lambda u: u.metadata.platforms, "Platforms the server knows", "metadata",
              (200, "Platforms")),
    Operation("listPythonTags", "GET", lambda u: u.metadata.python_tags,
              "Python tags of concrete implementations and versions", "metadata", (200, "PythonTags")),
    Operation("listAllPythonTags", "GET", lambda u: u.metadata.python_tags.all,
              "Every python tag the server understands", "metadata", (200, "PythonTags")),
    Operation("listUserRepositoriesV0", "GET", lambda u: u.user.repositories,
              "Repositories the caller can read ('org/repo')", "metadata", (200, "RepositoryNames"), (400,),
              query={"include_indexable": INCLUDE_INDEXABLE}, versions=(0,)),
    Operation("listUserRepositories", "GET", lambda u: u.user.repositories,
              "Repositories the caller holds a role on, with the role; names only with include_indexable",
              "metadata", (200, {"anyOf": [ref("RepositoryAccessList"), ref("RepositoryNames")]}), (400,),
              query={"include_indexable": INCLUDE_INDEXABLE}, versions=(1,)),
    # -- eggs
    Operation("uploadEgg", "POST", lambda u: u.data.eggs.upload, "Upload an egg", "eggs", (201, "Uploaded"),
              (400, 403, 404, 409), body=Multipart("ShaOnlyData"),
              query={"overwrite": OVERWRITE, "enabled": ENABLED}, links={
                  "getEggMetadata": ("getEggMetadata", {
                      "organization_name": _ORGANIZATION, "repository_name": "$request.path.repository_name",
                      "platform": "$response.body#/platform", "python_tag": "$response.body#/python_tag",
                      "name": "$response.body#/name", "version": "$response.body#/version"})}),
    Operation("downloadEgg", "GET", lambda u: u.data.eggs.download, "An egg's file", "eggs", (200, DOWNLOAD),
              _ARTEFACT_READ, headers={"Range": RANGE}, examples=_EGG),
    Operation("deleteEgg", "DELETE", lambda u: u.data.eggs.delete, "Delete an egg", "eggs", (204, None),
              _ARTEFACT_READ, query={"force": FORCE}, examples=_EGG),
    Operation("getEggMetadata", "GET", lambda u: u.metadata.artefacts.eggs,
              "An egg's metadata, disabled eggs included (404: not uploaded)", "eggs", (200, "EggMetadata"),
              _ARTEFACT_READ, examples=_EGG),
    Operation("reindexEggs", "POST", lambda u: u.data.eggs.re_index, "Enable (index) uploaded eggs of a platform",
              "eggs", (202, "Reindexed"), (403, 404), body="Reindex"),
    Operation("reindexRepositoryEggs", "POST", lambda u: u.data.eggs.re_index_repository,
              "Enable uploaded eggs on every platform (hatcher 0.6-0.8)", "eggs", (202, "Reindexed"), (403, 404),
              body="Reindex"),
    Operation("getEggIndex", "GET", lambda u: u.indices.eggs,
              "Enabled eggs a python tag can use, keyed by file name", "eggs", (200, index_answers("EggIndex")),
              _ARTEFACT_READ, headers={"If-None-Match": IF_NONE_MATCH}),
    # -- runtimes
    Operation("uploadRuntimeV0", "POST", lambda u: u.data.runtimes.upload, "Upload a v0 runtime", "runtimes",
              (201, "Uploaded"), (400, 403, 404, 409), body=Multipart("RuntimeV0Data"),
              query={"overwrite": OVERWRITE}, versions=(0,), examples={"platform": "rh7-64"}),
    Operation("downloadRuntimeV0", "GET", lambda u: u.data.runtimes.download, "A v0 runtime's file", "runtimes",
              (200, DOWNLOAD), _ARTEFACT_READ, headers={"Range": RANGE}, versions=(0,), examples=_RUNTIME_V0),
    Operation("getRuntimeV0Metadata", "GET", lambda u: u.metadata.artefacts.runtimes, "A v0 runtime's metadata",
              "runtimes", (200, "RuntimeV0"), _ARTEFACT_READ, versions=(0,), examples=_RUNTIME_V0),
    Operation("getRuntimeV0Index", "GET", lambda u: u.indices.runtimes, "language -> version -> build -> runtime",
              "runtimes", (200, index_answers("RuntimeV0Index")), _ARTEFACT_READ,
              headers={"If-None-Match": IF_NONE_MATCH}, versions=(0,)),
    Operation("uploadRuntime", "POST", lambda u: u.data.runtimes.upload, "Upload a runtime", "runtimes",
              (201, "Uploaded"), (400, 403, 404, 409), body=Multipart("ShaOnlyData"),
              query={"overwrite": OVERWRITE}, versions=(1,), examples={"platform": "rh7_x86_64"}),
    Operation("downloadRuntime", "GET", lambda u: u.data.runtimes.download, "A runtime's file", "runtimes",
              (200, DOWNLOAD), _ARTEFACT_READ, headers={"Range": RANGE}, versions=(1,), examples=_RUNTIME_V1),
    Operation("deleteRuntime", "DELETE", lambda u: u.data.runtimes.delete, "Delete a runtime", "runtimes",
              (204, None), _ARTEFACT_READ, query={"force": FORCE}, versions=(1,), examples=_RUNTIME_V1),
    Operation("getRuntimeMetadata", "GET", lambda u: u.metadata.artefacts.runtimes, "A runtime's metadata",
              "runtimes", (200, "RuntimeV1"), _ARTEFACT_READ, versions=(1,), examples=_RUNTIME_V1),
    Operation("getRuntimeIndex", "GET", lambda u: u.indices.runtimes, "implementation -> version -> runtime",
              "runtimes", (200, index_answers("RuntimeV1Index")), _ARTEFACT_READ,
              headers={"If-None-Match": IF_NONE_MATCH}, versions=(1,)),
    # -- apps
    Operation("uploadApp", "POST", lambda u: u.data.apps.upload, "Upload an app description (YAML)", "apps",
              (201, "Uploaded"), (400, 403, 404, 409), body=Multipart("ShaOnlyData"), query={"overwrite": OVERWRITE}),
    Operation("getAppMetadata", "GET", lambda u: u.metadata.artefacts.apps, "An app's stored description", "apps",
              (200, "AppMetadata"), _ARTEFACT_READ, examples=_APP),
    Operation("getAppIndex", "GET", lambda u: u.indices.apps, "python_tag -> app_id -> version -> build -> entry",
              "apps", (200, index_answers("AppIndex")), _ARTEFACT_READ, headers={"If-None-Match": IF_NONE_MATCH}),
    # -- bundles (v1)
    Operation("uploadBundle", "POST", lambda u: u.data.bundles.upload,
              "Upload a bundle; its platform and python tag come from its runtime", "bundles", (201, "Uploaded"),
              (400, 403, 404, 409), body=Multipart("BundleData"), query={"overwrite": OVERWRITE}, versions=(1,),
              links={"getBundleMetadata": ("getBundleMetadata", {
                  "organization_name": _ORGANIZATION, "repository_name": "$request.path.repository_name",
                  "platform": "$response.body#/platform", "python_tag": "$response.body#/python_tag",
                  "name": "$response.body#/name", "version": "$response.body#/version"})}),
    Operation("getBundleMetadata", "GET", lambda u: u.metadata.artefacts.bundles,
              "A bundle's index entry and its document", "bundles", (200, "BundleMetadata"), _ARTEFACT_READ,
              versions=(1,), examples=_BUNDLE),
    Operation("deleteBundle", "DELETE", lambda u: u.metadata.artefacts.bundles, "Delete a bundle", "bundles",
              (204, None), _ARTEFACT_READ, query={"force": FORCE}, versions=(1,), examples=_BUNDLE),
    Operation("getBundleIndex", "GET", lambda u: u.indices.bundles, "python_tag -> name -> version -> build -> entry",
              "bundles", (200, index_answers("BundleIndex")), _ARTEFACT_READ,
              headers={"If-None-Match": IF_NONE_MATCH}, versions=(1,)),
]

# -- the document ---------------------------------------------------------------------------------

_PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
_SECURITY = [{"basic": []}, {"bearer": []}]


def _parameter(name: str, where: str, param: Param, required: bool) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": where, "required": required, "schema": param.schema,
                                 "description": param.description}
    if param.example is not None:
        parameter["example"] = param.example
    return parameter


def _request_body(body: Any) -> dict[str, Any]:
    if isinstance(body, Multipart):
        schema = obj({"file": {"type": "string", "contentMediaType": "application/octet-stream",
                               "description": "The artefact, with its file name"},
                      "data": ref(body.data)})
        return {"required": True, "content": {"multipart/form-data": {
            "schema": schema, "encoding": {"data": {"contentType": "application/json"}}}}}
    return {"required": True, "content": {"application/json": {"schema": ref(body)}}}


def _responses(operation: Operation, ids: dict[str, str]) -> dict[str, Any]:
    status, answer = operation.ok
    if isinstance(answer, str):
        answers: dict[int, Any] = {status: _json(answer, "Success")}
    elif answer is None:
        answers = {status: {"description": "Success (no body)"}}
    elif status in answer:
        answers = dict(answer)
    else:
        answers = {status: {"description": "Success", "content": {"application/json": {"schema": answer}}}}
    if operation.links:
        links = {name: {"operationId": ids[target], "parameters": parameters}
                 for name, (target, parameters) in operation.links.items() if target in ids}
        answers[status] = {**answers[status], "links": links}
    errors = set(operation.errors) | _ANY_REQUEST
    if operation.auth:
        errors |= {401, 429, 503, 507}
    if operation.body is not None and not isinstance(operation.body, Multipart):
        errors.add(413)
    for code in sorted(errors):
        answers[code] = {"$ref": f"#/components/responses/{code}"}
    return {str(code): answers[code] for code in sorted(answers)}


def _node(operation: Operation, version: int) -> Optional[str]:
    """The operation's path template on ``version``, or None while the URL tree lacks its node."""
    try:
        target = operation.select(urls_for(version))
    except AttributeError:
        return None
    return target if isinstance(target, str) else target.full_template


def _operation(operation: Operation, path: str, version: int, ids: dict[str, str]) -> dict[str, Any]:
    parameters = []
    for name in _PLACEHOLDER_RE.findall(path):
        param = PATH_PARAMETERS[name]
        if name in operation.examples:
            param = attr.evolve(param, example=operation.examples[name])
        parameters.append(_parameter(name, "path", param, True))
    parameters += [_parameter(name, "query", param, False) for name, param in operation.query.items()]
    parameters += [_parameter(name, "header", param, False) for name, param in operation.headers.items()]
    document: dict[str, Any] = {
        "operationId": ids[operation.id], "summary": operation.summary, "tags": [operation.tag],
        "security": _SECURITY if operation.auth else [],
    }
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = _request_body(operation.body)
    document["responses"] = _responses(operation, ids)
    return document


def _operation_id(operation: Operation, path: str, version: int) -> str:
    """The id: ``listOrganizations_v1`` on an API root, ``health`` elsewhere."""
    return f"{operation.id}_v{version}" if path.startswith(f"/api/v{version}/") else operation.id


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every operation of both API versions (a fresh copy)."""
    paths: dict[str, dict[str, Any]] = {}
    for version in (0, 1):
        present = [(operation, _node(operation, version)) for operation in OPERATIONS if version in operation.versions]
        present = [(operation, path) for operation, path in present if path is not None]
        ids = {operation.id: _operation_id(operation, path, version) for operation, path in present}
        for operation, path in present:
            paths.setdefault(path, {})[operation.method.lower()] = _operation(operation, path, version, ids)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Brood REST API (hatcher embedded server)", "version": __version__,
                 "description": "API v0 (/api/v0/json) and v1 (/api/v1/json) of a Brood package server. "
                                "Every error is JSON {\"error\": message}."},
        "tags": [{"name": name} for name in dict.fromkeys(operation.tag for operation in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "responses": {str(code): _error_response(code) for code in sorted(_ERRORS)},
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic", "description": "E-mail and password"},
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token or a session token"},
            },
        },
    }


@functools.lru_cache(maxsize=1)
def openapi_json() -> bytes:
    """The document serialised once (it only changes with the code)."""
    import json

    return json.dumps(build_document(), separators=(",", ":")).encode("utf-8")
