"""Upload many eggs at once: in parallel, without indexing, then verify and index them together.

This is what ``hatcher eggs batch-upload`` does::

    from hatcher.api import BroodClient
    from hatcher.batch import batch_upload_eggs

    client = BroodClient.from_url("https://packages.example.com", auth=("jane", "secret"), api_version=1)
    platform = client.organization("acme").repository("dev").platform("rh7-x86_64")
    result = batch_upload_eggs(platform, ["foo-1.0-1.egg", "bar-2.0-1.egg"], jobs=8)
    if not result.ok:
        for path, error in result.failures.items():
            print(path, error)

A failing file does not stop the others; when any file failed, nothing is indexed.

Small eggs (under :data:`OPTIMISTIC_MAX_SIZE`) are uploaded *optimistically*: sent at once,
and only when the server refuses one as a duplicate is its metadata fetched to tell an
identical egg (skipped) from a different one (checksum mismatch). That is the outcome of
upload verification (verify first, then upload) with one request less per new egg; bigger
eggs are verified first, so that a re-run does not send them again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator, Optional, Sequence

import attr
import requests
from requests.adapters import HTTPAdapter

from hatcher.core.brood_url_handler import UploadReceipt
from hatcher.core.utils import EggMetadata, upload_verify
from hatcher.errors import BroodHTTPError, HatcherException

__all__ = ["BatchResult", "batch_upload_eggs", "is_batch_fatal"]

logger = logging.getLogger(__name__)

#: The default number of uploads in flight (``--jobs``). Small eggs cost the client and the
#: server little CPU each and mostly wait on round trips, so a few connections in parallel
#: pay off even on two cores; more buy nothing measurable (docs/performance.rst).
DEFAULT_JOBS = 4

#: Eggs smaller than this many bytes are uploaded optimistically (sent first, looked up on the
#: server only when it refuses them as duplicates); bigger ones are looked up first.
OPTIMISTIC_MAX_SIZE = 1 << 20

#: Seconds between two verification rounds (a module attribute so that tests can shorten it).
ROUND_INTERVAL = 1.0

#: HTTP statuses of an upload that concern the whole batch, not one file.
FATAL_STATUSES = frozenset({401, 403, 404})

#: Called with 1 each time a file is done (uploaded, skipped or failed), from worker threads.
FileProgress = Callable[[int], None]


def sleep(seconds: float) -> None:
    """Wait between verification rounds (replace it in tests to run without waiting)."""
    time.sleep(seconds)


def is_batch_fatal(exc: BaseException) -> bool:
    """True for an error that would fail every file alike: no connection, 401, 403, 404."""
    if isinstance(exc, BroodHTTPError):
        return exc.status_code in FATAL_STATUSES
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


@attr.s(frozen=True)
class BatchResult:
    """The outcome of :func:`batch_upload_eggs`.

    Attributes
    ----------
    paths : list of str
        The eggs of the batch, duplicates removed, in the order given.
    uploaded : list of str
        The eggs sent to the server.
    skipped : list of str
        The eggs the server already held with the same sha256 (not sent again).
    failures : dict of str to Exception
        The eggs that could not be uploaded, in the order given, and why.
    verified_after : int or None
        The zero-based verification round that found every egg on the server (normally
        1), or None when no verification was done or it timed out.
    timed_out : bool
        The eggs were not all visible on the server within ``index_timeout`` rounds.
    indexed : bool
        The eggs were indexed (re-index request sent; never for an empty batch).
    index_timeout : int
        The number of verification rounds allowed.
    """

    paths: list[str] = attr.ib()
    uploaded: list[str] = attr.ib(factory=list)
    skipped: list[str] = attr.ib(factory=list)
    failures: dict[str, BaseException] = attr.ib(factory=dict)
    verified_after: Optional[int] = attr.ib(default=None)
    timed_out: bool = attr.ib(default=False)
    indexed: bool = attr.ib(default=False)
    index_timeout: int = attr.ib(default=10)

    @property
    def ok(self) -> bool:
        """True when every egg was uploaded (or already there) and no verification timed out."""
        return not self.failures and not self.timed_out


def _unique(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    seen: dict[str, str] = {}
    for path in paths:
        text = os.fspath(path)
        seen.setdefault(os.path.abspath(text), text)
    return list(seen.values())


def _lookup(platform: Any, metadata: EggMetadata) -> dict[str, Any]:
    return platform.egg_metadata(metadata.python_tag, metadata.name, metadata.full_version)


def _is_refusal(exc: BaseException) -> bool:
    """An upload refused for this file (e.g. 409: already there), not for the whole batch."""
    return (isinstance(exc, BroodHTTPError) and exc.status_code is not None and 400 <= exc.status_code < 500
            and exc.status_code not in FATAL_STATUSES)


def _upload_one(platform: Any, path: str, overwrite: bool) -> tuple[EggMetadata, Optional[UploadReceipt]]:
    """Upload one egg without enabling it; return its metadata and the upload's receipt (None: not sent).

    The outcome is that of upload verification: an identical egg already on the server is
    not sent again (None), a different one raises :class:`ChecksumMismatchError`. Small
    eggs are sent first and looked up only when the server refuses them.
    """
    metadata = EggMetadata.from_file(path)
    receipts: list[UploadReceipt] = []

    def upload() -> None:
        receipts.append(platform._send_egg(metadata, overwrite=overwrite, enabled=False))

    if overwrite or os.path.getsize(path) >= OPTIMISTIC_MAX_SIZE:
        upload_verify(path, metadata, lambda: _lookup(platform, metadata), upload, verify=True, overwrite=overwrite)
        return metadata, (receipts[0] if receipts else None)
    try:
        upload()
    except BroodHTTPError as exc:
        if not _is_refusal(exc):
            raise
        refusal = exc

        def refused() -> None:  # Not on the server after all: the refusal was for another reason.
            raise refusal

        # Same sha256: skipped (None); different: ChecksumMismatchError; 404: the refusal itself.
        upload_verify(path, metadata, lambda: _lookup(platform, metadata), refused, verify=True, overwrite=False)
        return metadata, None
    return metadata, receipts[0]


@contextlib.contextmanager
def _connection_pool(platform: Any, jobs: int) -> Iterator[None]:
    """Keep ``jobs`` keep-alive connections to the server for the time of the batch.

    The client's session keeps 16 connections per host (``BroodURLHandler.from_auth``); with
    more jobs, the surplus connections would be opened and dropped for every request. So a
    bigger pool, with the same retries, is mounted for the server's URL for the batch only.
    """
    handler = getattr(platform, "_url_handler", None)
    session = getattr(handler, "session", None)
    if not isinstance(session, requests.Session):
        yield
        return
    prefix = handler.base_url + "/"
    adapter = session.get_adapter(prefix)
    if getattr(adapter, "_pool_maxsize", jobs) >= jobs:
        yield
        return
    if type(adapter) is not HTTPAdapter:  # A custom adapter: it is not ours to replace.
        logger.warning("The session's connection pool (%s) is smaller than jobs=%d: some connections "
                       "will not be reused", adapter._pool_maxsize, jobs)
        yield
        return
    bigger = HTTPAdapter(max_retries=adapter.max_retries, pool_connections=1, pool_maxsize=jobs,
                         pool_block=getattr(adapter, "_pool_block", False))
    session.mount(prefix, bigger)
    try:
        yield
    finally:
        if session.adapters.get(prefix) is bigger:
            del session.adapters[prefix]
        bigger.close()


def _run_all(executor: ThreadPoolExecutor, function: Callable[[str], Any], paths: list[str],
             progress: Optional[FileProgress]) -> dict[str, Future[Any]]:
    """Run ``function`` for every path; stop early (and re-raise) on an error fatal to the batch."""
    def task(path: str) -> Any:
        try:
            return function(path)
        finally:
            if progress is not None:
                progress(1)

    futures = {path: executor.submit(task, path) for path in paths}
    pending = set(futures.values())
    while pending:
        done, pending = wait(pending, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None and is_batch_fatal(error):
                for other in pending:
                    other.cancel()
                raise error
    return futures


def _is_visible(platform: Any, metadata: EggMetadata) -> bool:
    try:
        platform.egg_metadata(metadata.python_tag, metadata.name, metadata.full_version)
    except BroodHTTPError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def _verify(executor: ThreadPoolExecutor, platform: Any, unconfirmed: list[EggMetadata], total: int,
            rounds: int) -> Optional[int]:
    """Wait until every egg is visible on the server; the zero-based round that found none left.

    ``unconfirmed`` are the eggs to look up (the ``total`` less those whose metadata was
    already read from the server during the upload). The first round starts at once; the
    rounds are one second apart, and no round is waited for when nothing is left for it.
    The numbering is that of the reference client, which looks up every egg again: a
    round that confirms the last eggs is followed by one that finds nothing left, and the
    last allowed round cannot conclude (it times out).
    """
    if not total:
        return 0 if rounds > 0 else None
    remaining = list(unconfirmed)
    for attempt in range(rounds):
        if remaining:
            visible = list(executor.map(lambda egg: _is_visible(platform, egg), remaining))
            remaining = [egg for egg, seen in zip(remaining, visible) if not seen]
        if attempt + 1 == rounds:
            break
        if not remaining:
            return attempt + 1
        sleep(ROUND_INTERVAL)
    return None


def batch_upload_eggs(platform: Any, paths: Sequence[str | os.PathLike[str]], overwrite: bool = False,
                      jobs: int = DEFAULT_JOBS, index: bool = True, index_timeout: int = 10,
                      progress: Optional[FileProgress] = None) -> BatchResult:
    """Upload eggs in parallel without indexing them, then verify and index them all at once.

    Every egg is read and validated locally, then uploaded with ``enabled=False`` and
    upload verification: an egg the server already holds with the same sha256 is not sent
    again (skipped); one with different content is a failure
    (:class:`~hatcher.errors.ChecksumMismatchError`) unless ``overwrite``. Eggs under
    :data:`OPTIMISTIC_MAX_SIZE` (1 MiB) are sent straight away and looked up on the server
    only when it refuses them (a 4xx other than 401, 403 and 404, e.g. 409): one request
    less per new egg. Bigger eggs are looked up first, so that nothing big is sent twice.
    A failing egg does not stop the others. The ``jobs`` uploads in flight share the
    client's session over that many pooled keep-alive connections (the pool is enlarged
    for the batch when ``jobs`` exceeds the session's 16).

    When every egg is in, and ``index`` is true, the eggs are verified: those whose upload
    the server did not confirm are looked up on the server (in the same threads, at once,
    then in rounds one second apart, up to ``index_timeout`` rounds) until all are visible.
    An upload is confirmed by a ``201 Created`` answer that describes the stored egg with
    the sha256 sent (:attr:`~hatcher.core.brood_url_handler.UploadReceipt.confirms_stored`,
    as the embedded server answers); the skipped eggs were seen during the upload. A Brood
    that processes uploads later gets the reference client's polling. Then all are indexed
    with one :meth:`~hatcher.core.repository.SinglePlatformRepository.reindex` request.
    Nothing is indexed when any egg failed or the rounds ran out.

    Parameters
    ----------
    platform : SinglePlatformRepository
        Where to upload, e.g. ``client.organization("acme").repository("dev").platform("rh7-x86_64")``.
        Its client is shared by the worker threads (one pooled, keep-alive session).
    paths : sequence of str
        Local egg files (duplicates are uploaded once).
    overwrite : bool
        Replace eggs the server already holds (every egg is then sent, without a lookup).
    jobs : int
        Number of uploads in flight at a time (at least 1; default :data:`DEFAULT_JOBS`).
    index : bool
        Verify and index the eggs at the end.
    index_timeout : int
        Number of verification rounds before giving up (0 always times out, as in the reference).
    progress : callable, optional
        Called with 1 each time an egg is done (uploaded, skipped or failed), from worker threads.

    Returns
    -------
    BatchResult
        What was uploaded, skipped, failed, verified and indexed.

    Raises
    ------
    ValueError
        ``jobs`` is less than 1.
    requests.ConnectionError, requests.Timeout
        The server could not be reached (the batch stops: eggs not yet started are not sent).
    BroodHTTPError
        An error that concerns the whole batch (401, 403, 404 on upload; any error of a
        verification lookup other than 404, or of the re-index request).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    paths = _unique(paths)
    result = BatchResult(paths, index_timeout=index_timeout)
    with _connection_pool(platform, jobs), \
            ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hatcher-batch") as executor:
        futures = _run_all(executor, lambda path: _upload_one(platform, path, overwrite), paths, progress)
        unconfirmed: list[EggMetadata] = []
        eggs: list[EggMetadata] = []
        for path, future in futures.items():
            error = future.exception()
            if error is None:
                metadata, receipt = future.result()
                eggs.append(metadata)
                if receipt is None:
                    result.skipped.append(path)
                else:
                    result.uploaded.append(path)
                    if not receipt.confirms_stored:
                        unconfirmed.append(metadata)
            elif isinstance(error, (HatcherException, OSError, requests.RequestException)):
                result.failures[path] = error
            else:
                raise error
        if not index or result.failures:
            return result
        verified_after = _verify(executor, platform, unconfirmed, len(eggs), index_timeout)
        if verified_after is None:
            return attr.evolve(result, timed_out=True)
        if eggs:  # The server refuses an empty re-index request: there is nothing to index.
            platform._reindex_eggs(eggs)
    return attr.evolve(result, verified_after=verified_after, indexed=bool(eggs))
