"""Rendering pages: the Jinja2 environment, the security headers, HTML error pages."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from hatcher import __version__
from hatcher.server.web import urls

#: Sent with every page and static file of the web interface.
SECURITY_HEADERS = {
    # Scripts and styles only from the server's own files: no inline script, no CDN.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@functools.cache
def environment() -> Any:
    """The Jinja2 environment of the templates shipped in the package (autoescaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("hatcher.server.web", "templates"),
                             autoescape=jinja2.select_autoescape(default=True), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals.update(urls=urls, path=urls.path, version=__version__)
    env.filters["size"] = human_size
    return env


def human_size(size: int) -> str:
    """``1.5 MiB`` for 1572864."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` rendered with ``context`` (and ``request``, ``user``, ``csrf``)."""
    from hatcher.server.web.session import page_context

    html = environment().get_template(template).render(request=request, **page_context(request), **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """An HTML error page (the web interface's answer to what the API answers in JSON)."""
    titles = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict", 413: "Too large",
              429: "Too many attempts", 503: "Unavailable"}
    return render(request, "error.html", status_code, title=titles.get(status_code, "Error"), message=message,
                  status=status_code)
