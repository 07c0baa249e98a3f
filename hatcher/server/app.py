"""The application factory of the embedded Brood: ``create_app(settings)``."""

from __future__ import annotations

from fastapi import FastAPI

from hatcher import __version__
from hatcher.core.url_templates import HEALTH_PATH
from hatcher.server.db import make_engine, make_sessionmaker
from hatcher.server.errors import install_error_handlers
from hatcher.server.fast_lane import FastLane
from hatcher.server.routes import admin, artefacts, indices, server_metadata, teams, tokens, uploads
from hatcher.server.settings import ServerSettings
from hatcher.server.store import BlobStore


def create_app(settings: ServerSettings) -> FastAPI:
    """A Brood application serving API v0 and v1 from ``settings.data_dir``.

    Every endpoint except ``GET /health`` requires credentials: HTTP Basic (email and
    password), a Bearer API token, or a Bearer session token.
    """
    settings.ensure_directories()
    app = FastAPI(title="Brood (hatcher embedded server)", version=__version__,
                  docs_url=None, redoc_url=None, openapi_url=None)
    engine = make_engine(settings.sqlalchemy_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.store = BlobStore(settings.blob_dir, settings.tmp_dir, settings.fsync_min_size)
    app.state.store.clean_tmp()
    install_error_handlers(app)

    @app.get(HEALTH_PATH, include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # Routes are matched in order: the busiest (uploads, artefacts, indices) first.
    for module in (uploads, artefacts, indices, tokens, server_metadata, admin, teams):
        app.include_router(module.router)
    app.add_middleware(FastLane, routes=uploads.FAST_ROUTES)
    return app
