"""Settings of one embedded Brood server: where its data lives and how it behaves."""

from __future__ import annotations

import os
from typing import Optional

import attr

from hatcher.artefacts.platforms import KNOWN_PLATFORMS
from hatcher.artefacts.tags import ALL_PYTHON_TAGS, CONCRETE_PYTHON_TAGS
from hatcher.server.space import Reserve, parse_reserve


def _absolute(path: Optional[str | os.PathLike[str]]) -> Optional[str]:
    return None if path is None else os.path.abspath(os.fspath(path))


#: The grace period of an S3 store's blobs when none is given: an hour (see :mod:`hatcher.server.gc`).
DEFAULT_S3_GC_GRACE = 3600


@attr.s(frozen=True)
class ServerSettings:
    """Settings of one server.

    Parameters
    ----------
    data_dir : str, optional
        Holds the SQLite database (unless ``database_url`` is given), the blobs and temporary
        files (unless ``blob_store`` is elsewhere). Needed unless both are given (the
        properties that need it raise ``ValueError`` without it).
    database_url : str, optional
        Any SQLAlchemy URL, e.g. ``postgresql+psycopg://user:pw@host/db``.
    blob_store : str, optional
        Where artefact files live: ``file:///absolute/path`` (default ``DATA_DIR/blobs``) or
        ``s3://BUCKET[/PREFIX]`` (see :mod:`hatcher.server.blobstore`).
    s3_endpoint_url : str, optional
        The S3 endpoint, instead of ``AWS_ENDPOINT_URL``.
    s3_presigned_downloads : int, optional
        Answer S3 downloads with a redirect to a URL signed for this many seconds.
    gc_grace : int, optional
        Seconds a blob stays after its last artefact went; default 0 (at once) for files,
        an hour for S3. It must exceed ``s3_presigned_downloads``.
    gc_interval : int
        Seconds between two garbage-collection passes of a running server (0: never).
    upgrade_db : bool
        Upgrade an out-of-date database schema at start instead of refusing to start.
    session_token_lifetime : int
        Seconds a session token stays valid (well over the client's 240 s refresh).
    fsync_min_size : int
        Uploaded blobs at least this large are fsync'ed before they are committed; smaller
        ones are only renamed atomically into place (0: fsync every blob). See docs/server.rst.
    trusted_proxies : tuple of str
        Peer addresses (or networks, ``10.0.0.0/24``) of proxies whose ``X-Forwarded-For`` is
        believed: the client address of a request they pass on is the last address they add.
    login_failure_limit : int
        Failed password checks of one account from one address, within ``login_window``
        seconds, after which its password attempts from there are refused (429).
    login_window : int
        Seconds over which failures are counted, and for which a lockout lasts.
    max_header_size : int
        Bytes the request line and headers of a request may take together: past them the
        answer is 431 (see :mod:`hatcher.server.transport`).
    request_timeout : float
        Seconds within which a request head must arrive once the connection is made (or its
        first byte came, on a kept-alive connection), and a JSON body once it is read: else 408.
    keep_alive_timeout : float
        Seconds an idle kept-alive connection stays open.
    min_free_space : Reserve, str or int, optional
        The free space a file store keeps on its disk: an upload announcing more than the free
        space minus this is refused (507) before its body is read, and ``GET /health`` says
        ``degraded`` below it. Bytes, a size with a unit (``512M``, ``1G``) or a percentage of
        the disk (``5%``); default 256 MiB or 5 %, whichever is smaller (see :mod:`hatcher.server.space`).
    """

    data_dir: Optional[str] = attr.ib(converter=_absolute)
    database_url: Optional[str] = attr.ib(default=None)
    blob_store: Optional[str] = attr.ib(default=None)
    s3_endpoint_url: Optional[str] = attr.ib(default=None)
    s3_presigned_downloads: Optional[int] = attr.ib(default=None)
    gc_grace: Optional[int] = attr.ib(default=None)
    gc_interval: int = attr.ib(default=600)
    upgrade_db: bool = attr.ib(default=False)
    session_token_lifetime: int = attr.ib(default=3600)
    fsync_min_size: int = attr.ib(default=1024 * 1024)
    trusted_proxies: tuple[str, ...] = attr.ib(default=(), converter=tuple)
    login_failure_limit: int = attr.ib(default=10)
    login_window: int = attr.ib(default=15 * 60)
    max_header_size: int = attr.ib(default=64 * 1024)
    request_timeout: float = attr.ib(default=30.0)
    keep_alive_timeout: float = attr.ib(default=5.0)
    min_free_space: Optional[Reserve] = attr.ib(default=None, converter=parse_reserve)
    platforms: tuple[str, ...] = attr.ib(default=KNOWN_PLATFORMS, converter=tuple)
    python_tags: tuple[str, ...] = attr.ib(default=CONCRETE_PYTHON_TAGS, converter=tuple)
    all_python_tags: tuple[str, ...] = attr.ib(default=ALL_PYTHON_TAGS, converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.s3_presigned_downloads is not None and not (self.blob_store or "").startswith("s3:"):
            raise ValueError("Presigned downloads need an S3 blob store")
        if (self.s3_presigned_downloads is not None
                and self.effective_gc_grace <= self.s3_presigned_downloads):
            raise ValueError(f"The garbage-collection grace period ({self.effective_gc_grace} s) must exceed "
                             f"the lifetime of presigned downloads ({self.s3_presigned_downloads} s)")

    def _in_data_dir(self, name: str) -> str:
        if self.data_dir is None:
            raise ValueError("A data directory is needed unless both the database URL and the blob store are given")
        return os.path.join(self.data_dir, name)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL: ``database_url``, or a SQLite file in the data directory."""
        return self.database_url or "sqlite:///" + self._in_data_dir("brood.sqlite3")

    @property
    def blob_store_url(self) -> str:
        """Where the blobs live: ``blob_store``, or ``file://DATA_DIR/blobs``."""
        return self.blob_store or "file://" + self.blob_dir

    @property
    def effective_gc_grace(self) -> int:
        """``gc_grace``, or its default for the kind of blob store."""
        if self.gc_grace is not None:
            return self.gc_grace
        return DEFAULT_S3_GC_GRACE if self.blob_store_url.startswith("s3:") else 0

    @property
    def blob_dir(self) -> str:
        """Where a default file store keeps artefact files, addressed by sha256."""
        return self._in_data_dir("blobs")

    @property
    def tmp_dir(self) -> Optional[str]:
        """Where a file store receives uploads before they are committed (None without a data directory)."""
        return None if self.data_dir is None else self._in_data_dir("tmp")

    def ensure_directories(self) -> None:
        """Create the data directory, and the blob and temporary directories of a default file store."""
        if self.data_dir is None:
            return
        os.makedirs(self.data_dir, exist_ok=True)
        if self.blob_store is None:
            for path in (self.blob_dir, self._in_data_dir("tmp")):
                os.makedirs(path, exist_ok=True)
