"""A shortcut for the busiest requests: straight to their handler, past routing and dependency injection.

A small egg upload costs the server about a millisecond of work, and matching it against
the 150 routes and resolving its parameters through FastAPI cost a good part of that
again. :class:`FastLane` is an ASGI middleware that recognises the few request shapes
listed with :func:`fast_route` (by method and path, from the URL templates: every path is
still spelled once, in :mod:`hatcher.core.url_templates`) and calls their handler
directly, with the path parameters and the listed query parameters (the last value of
each, as FastAPI does). Every other request goes through the application as usual, and
so does every error: an :class:`~hatcher.server.errors.ApiError` (or a database that is
down: 503) becomes the usual JSON answer, anything else reaches the application's error
handling.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

import attr
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hatcher.server.errors import as_api_error, error_response

_PARAMETER_RE = re.compile(r"\{(\w+)\}")


@attr.s(frozen=True)
class FastRoute:
    """One request shape of the fast lane: method, path pattern, handler and its query parameters."""

    method: str = attr.ib()
    pattern: re.Pattern[str] = attr.ib()
    handler: Callable[..., Awaitable[Any]] = attr.ib()
    query: tuple[str, ...] = attr.ib()


def fast_route(select: Callable[[Any], Any], method: str, handler: Callable[..., Awaitable[Any]],
               query: tuple[str, ...] = (), versions: tuple[int, ...] = (0, 1)) -> list[FastRoute]:
    """The fast-lane routes of ``handler`` on the path ``select(tree)`` of each API version.

    ``select`` is the same as for :func:`~hatcher.server.deps.add_routes`; path parameters
    match one segment each, as Starlette's default converter does.
    """
    from hatcher.core.url_templates import urls_for

    routes = []
    for version in versions:
        template = select(urls_for(version)).full_template
        parts = _PARAMETER_RE.split(template)
        regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
                        for index, part in enumerate(parts))
        routes.append(FastRoute(method, re.compile(regex + r"\Z"), handler, query))
    return routes


class FastLane:
    """ASGI middleware: send the requests of ``routes`` straight to their handlers (see the module)."""

    def __init__(self, app: ASGIApp, routes: list[FastRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match = route.pattern.match(scope["path"]) if scope["method"] == route.method else None
                if match is not None:
                    request = Request(scope, receive, send)
                    query = {name: request.query_params.get(name) for name in route.query}
                    try:
                        response = await route.handler(request, **match.groupdict(), **query)
                    except Exception as exc:
                        mapped = as_api_error(exc)
                        if mapped is None:
                            raise
                        response = error_response(mapped.status, mapped.message, mapped.headers)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
