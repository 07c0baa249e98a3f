"""Every path of the web interface, in one place (the REST API's live in :mod:`hatcher.core.url_templates`)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

LOGIN = "/login"
LOGOUT = "/logout"
HOME = "/"
SEARCH = "/search"
TOKENS = "/tokens"
TOKEN_DELETE = "/tokens/{name}/delete"
STATIC = "/static"
REPOSITORY = "/ui/{organization}/{repository}"
PLATFORM = "/ui/{organization}/{repository}/{platform}"
EGG = "/ui/{organization}/{repository}/{platform}/eggs/{name}"
DOWNLOAD = "/files/{artefact_id}"
#: Bulk enable/disable/delete of a platform's artefacts (``?kind=eggs|runtimes|apps|bundles&page=N``).
MANAGE = "/ui/{organization}/{repository}/{platform}/manage"
MANAGE_CONFIRM = "/ui/{organization}/{repository}/{platform}/manage/confirm"
MANAGE_APPLY = "/ui/{organization}/{repository}/{platform}/manage/apply"
#: Upload an egg, runtime, app or bundle from the browser.
UPLOAD = "/ui/{organization}/{repository}/{platform}/upload"
#: Administration: organizations (superusers), an organization's repositories, users and teams.
ADMIN = "/admin"
ADMIN_ORGANIZATION = "/admin/{organization}"
ADMIN_ACTION = "/admin/{organization}/{action}"
ADMIN_TEAM = "/admin/{organization}/teams/{team}"
ADMIN_TEAM_ACTION = "/admin/{organization}/teams/{team}/{action}"

#: Paths that belong to the web interface (its error pages are HTML, not JSON).
PREFIXES = (LOGIN, LOGOUT, SEARCH, TOKENS, STATIC + "/", "/ui/", "/files/", ADMIN)


def path(template: str, query: dict[str, object] | None = None, **values: object) -> str:
    """``template`` filled with URL-quoted ``values``, plus a query string of the non-None ``query`` items."""
    filled = template.format(**{key: quote(str(value), safe="") for key, value in values.items()})
    items = {key: value for key, value in (query or {}).items() if value is not None}
    return filled + ("?" + urlencode(items) if items else "")


def is_static(request_path: str) -> bool:
    """Whether a request path is one of the web interface's static files."""
    return request_path.startswith(STATIC + "/")


def is_web(request_path: str) -> bool:
    """Whether a request path is the web interface's."""
    return request_path == HOME or request_path.startswith(PREFIXES)
