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
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Optional, Sequence

import attr
import requests

from hatcher.core.utils import EggMetadata, upload_verify
from hatcher.errors import BroodHTTPError, HatcherException

__all__ = ["BatchResult", "batch_upload_eggs", "is_batch_fatal"]

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


def _upload_one(platform: Any, path: str, overwrite: bool) -> tuple[EggMetadata, bool]:
    """Upload one egg without enabling it; return its metadata and whether it was sent."""
    metadata = EggMetadata.from_file(path)
    sent = upload_verify(
        path, metadata,
        lambda: platform.egg_metadata(metadata.python_tag, metadata.name, metadata.full_version),
        lambda: platform.upload_egg(path, overwrite=overwrite, enabled=False, verify=False),
        verify=True, overwrite=overwrite)
    return metadata, sent


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


def _verify(executor: ThreadPoolExecutor, platform: Any, eggs: list[EggMetadata], rounds: int) -> Optional[int]:
    """Wait until every egg is visible on the server; the zero-based round that found none left."""
    remaining = list(eggs)
    for attempt in range(rounds):
        if not remaining:
            return attempt
        visible = list(executor.map(lambda egg: _is_visible(platform, egg), remaining))
        remaining = [egg for egg, seen in zip(remaining, visible) if not seen]
        if attempt + 1 < rounds:
            sleep(ROUND_INTERVAL)
    return None


def batch_upload_eggs(platform: Any, paths: Sequence[str | os.PathLike[str]], overwrite: bool = False,
                      jobs: int = 4, index: bool = True, index_timeout: int = 10,
                      progress: Optional[FileProgress] = None) -> BatchResult:
    """Upload eggs in parallel without indexing them, then verify and index them all at once.

    Every egg is read and validated locally, then uploaded with ``enabled=False`` and
    upload verification (an egg the server already holds with the same sha256 is not sent
    again; one with different content is a failure unless ``overwrite``). A failing egg does
    not stop the others. When every egg is in, and ``index`` is true, the eggs are looked up
    on the server in up to ``index_timeout`` rounds (one second apart) until all are visible,
    then indexed with one :meth:`~hatcher.core.repository.SinglePlatformRepository.reindex`.
    Nothing is indexed when any egg failed or the rounds ran out.

    Parameters
    ----------
    platform : SinglePlatformRepository
        Where to upload, e.g. ``client.organization("acme").repository("dev").platform("rh7-x86_64")``.
        Its client is shared by the worker threads (one pooled, keep-alive session).
    paths : sequence of str
        Local egg files (duplicates are uploaded once).
    overwrite : bool
        Replace eggs the server already holds.
    jobs : int
        Number of uploads in flight at a time (at least 1).
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
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hatcher-batch") as executor:
        futures = _run_all(executor, lambda path: _upload_one(platform, path, overwrite), paths, progress)
        eggs = []
        for path, future in futures.items():
            error = future.exception()
            if error is None:
                metadata, sent = future.result()
                eggs.append(metadata)
                (result.uploaded if sent else result.skipped).append(path)
            elif isinstance(error, (HatcherException, OSError, requests.RequestException)):
                result.failures[path] = error
            else:
                raise error
        if not index or result.failures:
            return result
        verified_after = _verify(executor, platform, eggs, index_timeout)
    if verified_after is None:
        return attr.evolve(result, timed_out=True)
    if paths:  # The server refuses an empty re-index request: there is nothing to index.
        platform.reindex(paths)
    return attr.evolve(result, verified_after=verified_after, indexed=bool(paths))
