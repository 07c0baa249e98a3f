"""Settings of one embedded Brood server: where its data lives and how it behaves."""

from __future__ import annotations

import os

import attr

from hatcher.artefacts.platforms import KNOWN_PLATFORMS
from hatcher.artefacts.tags import ALL_PYTHON_TAGS, CONCRETE_PYTHON_TAGS


def _absolute(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


@attr.s(frozen=True)
class ServerSettings:
    """Settings of one server.

    Parameters
    ----------
    data_dir : str
        Holds the SQLite database (unless ``database_url`` is given), the blobs and temporary files.
    database_url : str, optional
        Any SQLAlchemy URL, e.g. ``postgresql+psycopg://user:pw@host/db``.
    session_token_lifetime : int
        Seconds a session token stays valid (well over the client's 240 s refresh).
    fsync_min_size : int
        Uploaded blobs at least this large are fsync'ed before they are committed; smaller
        ones are only renamed atomically into place (0: fsync every blob). See docs/server.rst.
    """

    data_dir: str = attr.ib(converter=_absolute)
    database_url: str | None = attr.ib(default=None)
    session_token_lifetime: int = attr.ib(default=3600)
    fsync_min_size: int = attr.ib(default=1024 * 1024)
    platforms: tuple[str, ...] = attr.ib(default=KNOWN_PLATFORMS, converter=tuple)
    python_tags: tuple[str, ...] = attr.ib(default=CONCRETE_PYTHON_TAGS, converter=tuple)
    all_python_tags: tuple[str, ...] = attr.ib(default=ALL_PYTHON_TAGS, converter=tuple)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL: ``database_url``, or a SQLite file in the data directory."""
        return self.database_url or "sqlite:///" + os.path.join(self.data_dir, "brood.sqlite3")

    @property
    def blob_dir(self) -> str:
        """Where artefact files live, addressed by sha256."""
        return os.path.join(self.data_dir, "blobs")

    @property
    def tmp_dir(self) -> str:
        """Where uploads are received before they are committed."""
        return os.path.join(self.data_dir, "tmp")

    def ensure_directories(self) -> None:
        """Create the data, blob and temporary directories."""
        for path in (self.data_dir, self.blob_dir, self.tmp_dir):
            os.makedirs(path, exist_ok=True)
