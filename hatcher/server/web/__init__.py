"""The web interface: server-rendered pages (Jinja2, htmx, Pico CSS) served by the Brood application.

Everything ships in the package: templates in ``templates/``, and in ``static/vendor/``
htmx and Pico CSS with their licences (no CDN, no JavaScript build step). Every action is a
plain form POST answered by a redirect; htmx only makes some of them smoother.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hatcher.server.web import urls

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")


class SecurityHeaders:
    """ASGI middleware: the web interface's answers (pages, static files, errors) get its security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not urls.is_web(scope["path"]):
            await self.app(scope, receive, send)
            return
        from hatcher.server.web.render import SECURITY_HEADERS

        extra = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    pair for pair in extra if pair[0] not in present]
            await send(message)

        await self.app(scope, receive, sending)


def html_error(request: Request, status: int, message: str) -> Any:
    """The HTML page of an error on a web interface path (None elsewhere: the API answers JSON)."""
    if not urls.is_web(request.url.path) or urls.is_static(request.url.path):
        return None
    from hatcher.server.web.render import error_page

    return error_page(request, status, message)


def install(app: FastAPI) -> None:
    """Add the web interface's routes, static files, error pages and headers to ``app``."""
    from hatcher.server.web import admin, browse, manage, search, session, tokens

    app.state.html_errors = html_error

    @app.exception_handler(session.LoginRequired)
    async def _login_required(request: Request, exc: session.LoginRequired) -> Any:
        return session.login_redirect(exc.next_path)

    for module in (session, browse, search, tokens, manage, admin):
        app.include_router(module.router)
    app.mount(urls.STATIC, StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)
