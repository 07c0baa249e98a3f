"""The one place where every Brood path lives: URL-template trees for API v0 and v1."""

from __future__ import annotations

from typing import Any, Iterator
from urllib.parse import urlsplit

#: The session-token exchange endpoint: always on the v1 root, whatever the API version.
TOKENS_AUTH_PATH = "/api/v1/json/auth/tokens/auth"

#: The server's health probe (not part of either API root).
HEALTH_PATH = "/health"


class UrlBuilder:
    """A node of a URL-template tree.

    Parameters
    ----------
    name : str
        The node's name; a parent exposes it as an attribute.
    template : str
        This node's part of the path; the full template is the concatenation of the
        ancestors' templates and this one.
    *children : UrlBuilder
        Child nodes.
    **defaults
        Default values for the placeholders of this node and its descendants.
    """

    def __init__(self, name: str, template: str, *children: UrlBuilder, **defaults: Any) -> None:
        self.name = name
        self.template = template
        self.parent: UrlBuilder | None = None
        self.children: dict[str, UrlBuilder] = {}
        self._defaults = defaults
        for child in children:
            child.parent = self
            self.children[child.name] = child

    @property
    def full_template(self) -> str:
        """The template of the whole path down to this node."""
        prefix = self.parent.full_template if self.parent is not None else ""
        return prefix + self.template

    @property
    def defaults(self) -> dict[str, Any]:
        """The placeholder defaults of this node merged over its ancestors'."""
        merged = dict(self.parent.defaults) if self.parent is not None else {}
        merged.update(self._defaults)
        return merged

    def format(self, **kwargs: Any) -> str:
        """Fill the full template; keyword arguments override the defaults."""
        values = self.defaults
        values.update(kwargs)
        return self.full_template.format(**values)

    def __getattr__(self, name: str) -> UrlBuilder:
        children = self.__dict__.get("children", {})
        try:
            return children[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        yield self.full_template
        for name in sorted(self.children):
            yield from self.children[name]

    def __repr__(self) -> str:
        return f"<UrlBuilder {self.name!r} {self.full_template!r}>"


def _tree(version: int) -> UrlBuilder:
    """Build the template tree of one API version (the two differ only in a few leaves)."""
    runtime_key = "{python_tag}" if version == 0 else "{implementation}"
    data_runtimes = [
        UrlBuilder("upload", "/{platform}/runtimes/upload"),
        UrlBuilder("download", "/{platform}/runtimes/" + runtime_key + "/{version}"),
    ]
    metadata_artefacts = [
        UrlBuilder("eggs", "/{python_tag}/eggs/{name}/{version}"),
        UrlBuilder("runtimes", "/runtimes/" + runtime_key + "/{version}"),
        UrlBuilder("apps", "/{python_tag}/apps/{app_id}/{version}"),
    ]
    indices = [
        UrlBuilder("eggs", "/{python_tag}/eggs"),
        UrlBuilder("runtimes", "/runtimes"),
        UrlBuilder("apps", "/apps"),
    ]
    data_extra = []
    admin_extra = []
    if version >= 1:
        admin_extra.append(UrlBuilder("audit", "/audit"))
        data_runtimes.append(UrlBuilder("delete", "/{platform}/runtimes/{implementation}/{version}"))
        metadata_artefacts.append(UrlBuilder("bundles", "/bundles/{python_tag}/{name}/{version}"))
        indices.append(UrlBuilder("bundles", "/bundles"))
        data_extra.append(UrlBuilder("bundles", "", UrlBuilder("upload", "/bundles/upload")))
    return UrlBuilder(
        f"v{version}",
        f"/api/v{version}/json",
        UrlBuilder(
            "admin",
            "/admin",
            UrlBuilder(
                "organizations",
                "/organizations",
                UrlBuilder("repositories", "/{organization_name}/repositories"),
                UrlBuilder("teams", "/{organization_name}/teams"),
                UrlBuilder("users", "/{organization_name}/users"),
            ),
            UrlBuilder("repositories", "/repositories/{organization_name}/{repository_name}"),
            UrlBuilder(
                "teams",
                "/teams/{organization_name}/{team_name}",
                UrlBuilder("members", "/members", UrlBuilder("query", "/{email}")),
                UrlBuilder("repositories", "/repositories", UrlBuilder("query", "/{repository_name}")),
            ),
            UrlBuilder("users", "/users", UrlBuilder("metadata", "/{organization_name}/{email}")),
            *admin_extra,
        ),
        UrlBuilder(
            "tokens",
            "/auth/tokens",
            UrlBuilder("api", "/api", UrlBuilder("delete", "/{name}")),
        ),
        UrlBuilder(
            "data",
            "/data/{organization_name}/{repository_name}",
            UrlBuilder(
                "eggs",
                "",
                UrlBuilder("upload", "/{platform}/eggs/upload"),
                UrlBuilder("download", "/{platform}/{python_tag}/eggs/{name}/{version}"),
                UrlBuilder("delete", "/{platform}/{python_tag}/eggs/{name}/{version}"),
                UrlBuilder("re_index", "/{platform}/eggs/re-index"),
                UrlBuilder("re_index_repository", "/eggs/re-index"),
            ),
            UrlBuilder("runtimes", "", *data_runtimes),
            UrlBuilder("apps", "", UrlBuilder("upload", "/{platform}/apps/upload")),
            *data_extra,
        ),
        UrlBuilder("indices", "/indices/{organization_name}/{repository_name}/{platform}", *indices),
        UrlBuilder(
            "metadata",
            "/metadata",
            UrlBuilder(
                "artefacts",
                "/{organization_name}/{repository_name}/{platform}",
                *metadata_artefacts,
            ),
            UrlBuilder("platforms", "/platforms"),
            UrlBuilder("python_tags", "/python-tags", UrlBuilder("all", "/all")),
        ),
        UrlBuilder("user", "/metadata/user", UrlBuilder("repositories", "/repositories")),
    )


#: The API version 0 tree (root ``/api/v0/json``).
URLS_V0 = _tree(0)
#: The API version 1 tree (root ``/api/v1/json``).
URLS_V1 = _tree(1)


class URLS:
    """Both trees, as attributes ``v0`` and ``v1`` (kept for backward compatibility)."""

    v0 = URLS_V0
    v1 = URLS_V1


def urls_for(api_version: int) -> UrlBuilder:
    """Return the template tree of ``api_version`` (0 or 1)."""
    return URLS_V1 if api_version >= 1 else URLS_V0


def split_base_url(url: str) -> tuple[str, str]:
    """Return ``(scheme, host)`` of a server URL, the way every hatcher request is addressed.

    Only the scheme and ``host[:port]`` are kept; a URL without ``//`` is read as a host,
    and a missing scheme means ``http``. Any path, query or fragment is ignored.
    """
    if "//" not in url:
        url = "//" + url
    parts = urlsplit(url)
    return parts.scheme or "http", parts.netloc


def display_url(url: str) -> str:
    """Return ``scheme://host[:port]`` of ``url`` with any user information removed."""
    scheme, netloc = split_base_url(url)
    return f"{scheme}://{netloc.rpartition('@')[2]}"
