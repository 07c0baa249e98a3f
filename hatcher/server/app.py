"""The application factory of the embedded Brood: ``create_app(settings)``."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, AsyncIterator, Optional

from fastapi import FastAPI, Response

from hatcher import __version__
from hatcher.core.url_templates import HEALTH_PATH
from hatcher.server import openapi, security
from hatcher.server.errors import install_error_handlers
from hatcher.server.fast_lane import FastLane
from hatcher.server.routes import admin, artefacts, audit, indices, server_metadata, teams, tokens, uploads
from hatcher.server.services import Services, open_services
from hatcher.server.settings import ServerSettings
from hatcher.server.space import space_report

logger = logging.getLogger("hatcher.server")


class _Collector:
    """Runs a garbage-collection pass every ``interval`` seconds in a thread (one replica at a time)."""

    def __init__(self, services: Services, interval: int) -> None:
        self._services = services
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        if self._interval > 0:
            self._thread = threading.Thread(target=self._run, name="hatcher-gc", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        from hatcher.server.gc import collect_garbage

        while not self._stopping.wait(self._interval):
            try:
                report = collect_garbage(self._services)
            except Exception as exc:  # noqa: BLE001 - a database or store that is down: try again later
                logger.warning("Garbage collection failed: %s", exc)
                continue
            if report.blobs or report.orphans or report.temporary:
                logger.info("Garbage collection removed %d blob(s), %d orphan object(s), %d temporary file(s)",
                            len(report.blobs), len(report.orphans), report.temporary)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def create_app(settings: ServerSettings, services: Optional[Services] = None) -> FastAPI:
    """A Brood application serving API v0 and v1 with the database and blob store of ``settings``.

    Every endpoint except ``GET /health`` and ``GET /openapi.json`` (the OpenAPI document, see
    :mod:`hatcher.server.openapi`) requires credentials: HTTP Basic (email and
    password), a Bearer API token, or a Bearer session token. The schema is checked (see
    :func:`hatcher.server.schema.prepare_schema`) and an S3 store probed before it is built;
    while it runs, it listens for other replicas' cache invalidations and collects garbage
    every ``settings.gc_interval`` seconds.
    """
    services = services or open_services(settings)
    services.coordinator.on_invalidate(security.invalidate)
    if services.store.local:
        services.store.sweep_temporary(time.time() + 1)  # what uploads left when this server last stopped
    collector = _Collector(services, settings.gc_interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.coordinator.start()
        collector.start()
        try:
            yield
        finally:
            collector.stop()
            services.coordinator.stop()

    app = FastAPI(title="Brood (hatcher embedded server)", version=__version__,
                  docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.services = services
    app.state.engine = services.engine
    app.state.sessionmaker = services.sessionmaker
    app.state.store = services.store
    install_error_handlers(app)

    @app.get(HEALTH_PATH, include_in_schema=False)
    def health() -> dict[str, Any]:
        # Always 200 (the server is up, and serves downloads): "degraded" when the free space of
        # the disk that receives uploads is below the reserve, so uploads are refused (507).
        answer: dict[str, Any] = {"status": "ok", "version": __version__}
        try:
            report = space_report(services.store, settings.min_free_space)
        except OSError as exc:  # the directory went away: say so, and stay up
            logger.warning("Cannot read the free space of the blob store: %s", exc)
            report = None
        if report is not None:
            answer.update(free_space=report.free, min_free_space=report.reserve)
            if report.low:
                answer["status"] = "degraded"
        return answer

    @app.get(openapi.OPENAPI_PATH, include_in_schema=False)
    def openapi_document() -> Response:
        return Response(openapi.openapi_json(), media_type="application/json")

    # Routes are matched in order: the busiest (uploads, artefacts, indices) first.
    for module in (uploads, artefacts, indices, tokens, server_metadata, admin, teams, audit):
        app.include_router(module.router)
    from hatcher.server import web

    web.install(app)
    app.add_middleware(FastLane, routes=uploads.FAST_ROUTES)
    return app
