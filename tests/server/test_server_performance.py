"""Behaviour behind the server's performance work (issue 5): no timings, only what must hold.

Index answers: gzip when allowed, ETag/304, invalidation on change; large-chunk downloads
with Range; the session-token cache; the blob writer's fast paths; the benchmark data helper.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import threading
from typing import Any, Callable

import pytest
import requests
from artefact_kit import Repo, make_repo, raw_upload
from sqlalchemy import delete, update

from hatcher.artefacts import builders
from hatcher.core.url_templates import URLS_V1
from hatcher.server import bench_data, blobstore, security
from hatcher.server.blobstore import file as store
from hatcher.server.blobstore.file import BlobResponse
from hatcher.server.db import SessionToken
from hatcher.server.routes.indices import accepts_gzip
from hatcher.server.runner import EmbeddedBrood, fast_protocols

PLATFORM = "rh5-x86_64"


def _upload_egg(repo: Repo, tmp_path: Any, name: str, payload_size: int = 0, enabled: bool = True) -> bytes:
    path = builders.build_egg(str(tmp_path), name=name, payload_size=payload_size)
    with open(path, "rb") as stream:
        content = stream.read()
    response = raw_upload(repo, repo.path(URLS_V1.data.eggs.upload), content, os.path.basename(path),
                          params=f"?overwrite=False&enabled={enabled}")
    assert response.status_code == 201, response.text
    return content


def _index_url(repo: Repo) -> str:
    return repo.brood.url + repo.path(URLS_V1.indices.eggs, python_tag="cp27")


def _get(repo: Repo, encoding: str = "gzip, deflate", **headers: str) -> requests.Response:
    return requests.get(_index_url(repo), auth=repo.brood.admin_auth, timeout=30, stream=True,
                        headers={"Accept-Encoding": encoding, **headers})


def _raw_body(response: requests.Response) -> bytes:
    return response.raw.read(decode_content=False)


# -- indices --------------------------------------------------------------------------------------


def test_index_is_gzipped_only_when_the_client_allows_it(brood: EmbeddedBrood, unique: Callable[[str], str],
                                                         tmp_path: Any) -> None:
    repo = make_repo(brood, unique, 1)
    _upload_egg(repo, tmp_path, "zipped")
    zipped = _get(repo, "gzip, deflate")
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    compressed = _raw_body(zipped)
    plain = _get(repo, "identity")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    body = _raw_body(plain)
    assert gzip.decompress(compressed) == body
    assert list(json.loads(body)) == ["zipped-1.0.1-1.egg"]
    refused = _get(repo, "gzip;q=0, deflate")
    assert "Content-Encoding" not in refused.headers and _raw_body(refused) == body
    # requests' default Accept-Encoding gets gzip, decoded transparently
    default = requests.get(_index_url(repo), auth=brood.admin_auth, timeout=30)
    assert default.headers["Content-Encoding"] == "gzip" and default.content == body


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip, deflate", True), ("GZIP", True), ("br;q=1.0, gzip;q=0.8, *;q=0.1", True), ("*", True),
    ("x-gzip", True), ("identity", False), ("deflate, br", False), ("gzip;q=0", False), ("*;q=0", False),
    ("gzip;q=0, *", False), ("", False), (None, False), ("gzip;q=junk", False),
])
def test_accepts_gzip(header: Any, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_etag_is_stable_and_answers_304(brood: EmbeddedBrood, unique: Callable[[str], str],
                                        tmp_path: Any) -> None:
    repo = make_repo(brood, unique, 1)
    _upload_egg(repo, tmp_path, "stable")
    first, second = _get(repo, "identity"), _get(repo, "identity")
    etag = first.headers["ETag"]
    assert etag == second.headers["ETag"] and etag.startswith('"')
    zipped_etag = _get(repo).headers["ETag"]
    assert zipped_etag != etag and zipped_etag == _get(repo).headers["ETag"]
    for tag in (etag, zipped_etag, f'"other", {etag}', f"W/{etag}"):
        cached = _get(repo, **{"If-None-Match": tag})
        assert cached.status_code == 304 and _raw_body(cached) == b""
        assert cached.headers["ETag"] == zipped_etag
    assert _get(repo, **{"If-None-Match": '"something-else"'}).status_code == 200


def test_etag_and_index_change_after_upload_reindex_and_delete(brood: EmbeddedBrood,
                                                               unique: Callable[[str], str], tmp_path: Any) -> None:
    repo = make_repo(brood, unique, 1)
    _upload_egg(repo, tmp_path, "first")
    seen = {_get(repo).headers["ETag"]}

    # The tag follows the content: a disabled egg leaves the index (and its tag) as it was.
    _upload_egg(repo, tmp_path, "second", enabled=False)
    assert _get(repo).headers["ETag"] in seen and sorted(_get(repo).json()) == ["first-1.0.1-1.egg"]

    _upload_egg(repo, tmp_path, "third")
    after_upload = _get(repo)
    assert after_upload.headers["ETag"] not in seen
    assert _get(repo, **{"If-None-Match": next(iter(seen))}).status_code == 200
    seen.add(after_upload.headers["ETag"])
    assert sorted(after_upload.json()) == ["first-1.0.1-1.egg", "third-1.0.1-1.egg"]

    reindex = requests.post(brood.url + repo.path(URLS_V1.data.eggs.re_index), auth=brood.admin_auth, timeout=30,
                            json={"eggs": [{"name": "second", "version": "1.0.1-1", "python_tag": "cp27"}]})
    assert reindex.status_code == 202
    after_reindex = _get(repo)
    assert after_reindex.headers["ETag"] not in seen
    seen.add(after_reindex.headers["ETag"])
    assert sorted(after_reindex.json()) == ["first-1.0.1-1.egg", "second-1.0.1-1.egg", "third-1.0.1-1.egg"]

    url = brood.url + repo.path(URLS_V1.data.eggs.delete, python_tag="cp27", name="first", version="1.0.1-1")
    assert requests.delete(url, auth=brood.admin_auth, timeout=30).status_code == 204
    after_delete = _get(repo)
    assert after_delete.headers["ETag"] not in seen
    assert sorted(after_delete.json()) == ["second-1.0.1-1.egg", "third-1.0.1-1.egg"]


@pytest.mark.embedded
def test_index_cache_serves_repeated_requests_from_one_build(brood: EmbeddedBrood, unique: Callable[[str], str],
                                                             tmp_path: Any, monkeypatch: Any) -> None:
    from hatcher.server import documents

    repo = make_repo(brood, unique, 1)
    _upload_egg(repo, tmp_path, "cached")
    builds: list[int] = []
    original = documents.build_egg_index
    monkeypatch.setattr(documents, "build_egg_index", lambda *a, **k: builds.append(1) or original(*a, **k))
    for encoding in ("gzip", "identity", "gzip", "identity"):
        assert _get(repo, encoding).status_code == 200
    assert len(builds) == 1
    _upload_egg(repo, tmp_path, "invalidates")
    assert sorted(_get(repo).json()) == ["cached-1.0.1-1.egg", "invalidates-1.0.1-1.egg"]
    assert len(builds) == 2


def test_bench_data_fills_an_egg_index(brood: EmbeddedBrood, unique: Callable[[str], str]) -> None:
    org = unique("bench")
    bench_data.populate_egg_index(brood.app, org, "dev", "rh7-x86_64", 40)
    bench_data.populate_egg_index(brood.app.state.sessionmaker, org, "dev", "rh7_x86_64", 10)
    url = brood.url + URLS_V1.indices.eggs.format(organization_name=org, repository_name="dev",
                                                  platform="rh7-x86_64", python_tag="cp38")
    index = requests.get(url, auth=brood.admin_auth, timeout=30).json()
    assert len(index) == 50
    entry = index["bench_pkg00000-1.0.0-1.egg"]
    assert entry["name"] == "bench_pkg00000" and entry["python_tag"] == "cp38" and entry["type"] == "egg"


def test_bench_data_command_line(tmp_path: Any) -> None:
    bench_data.main(["--data-dir", str(tmp_path), "--organization", "o", "--repository", "r",
                     "--platform", "rh7-x86_64", "--count", "7"])
    with EmbeddedBrood(str(tmp_path)) as server:
        url = server.url + URLS_V1.indices.eggs.format(organization_name="o", repository_name="r",
                                                       platform="rh7-x86_64", python_tag="cp38")
        assert len(requests.get(url, auth=server.admin_auth, timeout=30).json()) == 7


# -- downloads ------------------------------------------------------------------------------------


def test_downloads_use_large_chunks_and_keep_range_support(brood: EmbeddedBrood, unique: Callable[[str], str],
                                                           tmp_path: Any) -> None:
    assert BlobResponse.chunk_size >= 1024 * 1024
    repo = make_repo(brood, unique, 1)
    content = _upload_egg(repo, tmp_path, "chunky", payload_size=3 * BlobResponse.chunk_size + 12345)
    url = brood.url + repo.path(URLS_V1.data.eggs.download, python_tag="cp27", name="chunky", version="1.0.1-1")
    whole = requests.get(url, auth=brood.admin_auth, timeout=30)
    assert whole.status_code == 200 and whole.content == content
    size = BlobResponse.chunk_size
    for start, end in [(size - 10, size + 10), (5, 2 * size + 7), (size, 2 * size - 1), (0, len(content) - 1)]:
        part = requests.get(url, auth=brood.admin_auth, headers={"Range": f"bytes={start}-{end}"}, timeout=30)
        assert part.status_code == 206 and part.content == content[start:end + 1]
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/{len(content)}"
    tail = requests.get(url, auth=brood.admin_auth, headers={"Range": f"bytes={size + 1}-"}, timeout=30)
    assert tail.status_code == 206 and tail.content == content[size + 1:]


# -- session tokens -------------------------------------------------------------------------------


def _session(brood: EmbeddedBrood) -> tuple[str, str]:
    response = requests.post(brood.url + "/api/v1/json/auth/tokens/auth", auth=brood.admin_auth, timeout=30)
    assert response.status_code == 200
    token = response.json()["token"]
    return token, security.token_hash(token)


def _whoami(brood: EmbeddedBrood, token: str) -> int:
    return requests.get(brood.url + URLS_V1.user.repositories.format(), timeout=30,
                        headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.embedded
def test_session_token_cache_forgets_deleted_tokens(brood: EmbeddedBrood) -> None:
    token, digest = _session(brood)
    assert _whoami(brood, token) == 200
    assert security.SESSION_TOKENS.get(id(brood.app.state.engine), digest) is not None
    with brood.app.state.sessionmaker() as db:
        db.execute(delete(SessionToken).where(SessionToken.token_hash == digest))
        db.commit()
    security.forget_session_tokens([digest])
    assert security.SESSION_TOKENS.get(id(brood.app.state.engine), digest) is None
    assert _whoami(brood, token) == 401


@pytest.mark.embedded
def test_session_token_cache_entries_age_out(brood: EmbeddedBrood, monkeypatch: Any) -> None:
    token, digest = _session(brood)
    assert _whoami(brood, token) == 200
    with brood.app.state.sessionmaker() as db:  # deleted behind the server's back
        db.execute(delete(SessionToken).where(SessionToken.token_hash == digest))
        db.commit()
    monkeypatch.setattr(security.SessionTokenCache, "TTL", 0.0)
    assert _whoami(brood, token) == 401


@pytest.mark.embedded
def test_cached_session_token_still_expires(brood: EmbeddedBrood, monkeypatch: Any) -> None:
    token, digest = _session(brood)
    assert _whoami(brood, token) == 200
    later = security.utcnow() + datetime.timedelta(days=2)
    monkeypatch.setattr(security, "utcnow", lambda: later)
    assert _whoami(brood, token) == 401
    assert security.SESSION_TOKENS.get(id(brood.app.state.engine), digest) is None


@pytest.mark.embedded
def test_purged_expired_session_tokens_leave_the_cache(brood: EmbeddedBrood) -> None:
    token, digest = _session(brood)
    assert _whoami(brood, token) == 200
    with brood.app.state.sessionmaker() as db:
        db.execute(update(SessionToken).where(SessionToken.token_hash == digest)
                   .values(expires=security.utcnow() - datetime.timedelta(seconds=1)))
        db.commit()
    _session(brood)  # the exchange purges expired tokens
    assert security.SESSION_TOKENS.get(id(brood.app.state.engine), digest) is None
    assert _whoami(brood, token) == 401


# -- blob writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("expected_size", [None, 0, 10 ** 9])
def test_incoming_blob_digests_and_content(tmp_path: Any, monkeypatch: Any, expected_size: Any) -> None:
    monkeypatch.setattr(store, "DIRECT_IO_MIN_SIZE", 0)
    blobs = store.FileBlobStore(str(tmp_path / "blobs"), str(tmp_path / "tmp"), fsync_min_size=1024)
    content = os.urandom(9 * 1024 * 1024 + 4321)
    incoming = blobs.writer(expected_size)
    for size in (1, 100, 300_000, 5_000_000, 17, 4_194_304):  # pieces above and below the thresholds
        offset = incoming.size
        incoming.write(content[offset:offset + size] if size % 2 else memoryview(content)[offset:offset + size])
    incoming.write(content[incoming.size:])
    sha256, md5, size = incoming.finish()
    assert (sha256, md5, size) == (hashlib.sha256(content).hexdigest(), hashlib.md5(content).hexdigest(),
                                   len(content))
    path = os.path.join(blobs.root, blobs.publish(incoming, sha256))
    with open(path, "rb") as stream:
        assert stream.read() == content
    assert os.listdir(blobs.tmp_dir) == []


def test_a_large_upload_is_md5_hashed_in_a_thread_that_never_holds_up_the_next_pieces(tmp_path: Any,
                                                                                       monkeypatch: Any) -> None:
    release = threading.Event()
    real_md5 = hashlib.md5

    class SlowMd5:
        def __init__(self) -> None:
            self._md5 = real_md5()

        def update(self, chunk: Any) -> None:
            assert release.wait(10)
            self._md5.update(chunk)

        def hexdigest(self) -> str:
            return self._md5.hexdigest()

    monkeypatch.setattr(blobstore.hashlib, "md5", SlowMd5)
    blobs = store.FileBlobStore(str(tmp_path / "blobs"), str(tmp_path / "tmp"))
    incoming = blobs.writer(blobstore.PARALLEL_HASH_MIN_SIZE)
    pieces = [os.urandom(1000) for _ in range(blobstore.MD5_QUEUE_DEPTH + 1)]  # one hashed, the others waiting
    writer = threading.Thread(target=lambda: [incoming.write(piece) for piece in pieces])
    writer.start()
    writer.join(5)
    assert not writer.is_alive() and incoming.size == sum(map(len, pieces))  # nothing waited for the md5
    release.set()
    assert incoming.finish()[1] == real_md5(b"".join(pieces)).hexdigest()
    incoming.discard()


@pytest.mark.parametrize("in_memory", [False, True], ids=["streamed", "whole"])
def test_small_blobs_skip_fsync_large_ones_do_not(tmp_path: Any, monkeypatch: Any, in_memory: bool) -> None:
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(store.os, "fsync", lambda fd: calls.append(fd) or real_fsync(fd))
    blobs = store.FileBlobStore(str(tmp_path / "blobs"), str(tmp_path / "tmp"), fsync_min_size=1000)
    for content, fsyncs in ((b"x" * 999, 0), (b"y" * 1000, 2)):  # file and directory
        calls.clear()
        incoming = blobs.memory_writer() if in_memory else blobs.writer()
        incoming.write(content)
        digest = incoming.finish()[0]
        path = os.path.join(blobs.root, blobs.publish(incoming, digest))
        assert len(calls) == fsyncs
        with open(path, "rb") as stream:
            assert stream.read() == content


def test_blobs_are_one_directory_level_deep_and_the_older_layout_is_converted(tmp_path: Any) -> None:
    root = tmp_path / "blobs"
    old_sha = "ab" + "cd" + "e" * 60
    legacy = root / "ab" / "cd"
    legacy.mkdir(parents=True)
    (legacy / old_sha).write_bytes(b"old blob")
    blobs = store.FileBlobStore(str(root), str(tmp_path / "tmp"))
    assert blobs.path(old_sha) == str(root / "ab" / old_sha)
    assert blobs.exists(old_sha) and not legacy.exists()
    incoming = blobs.writer()
    incoming.write(b"new blob")
    digest = incoming.finish()[0]
    assert blobs.publish(incoming, digest) == f"{digest[:2]}/{digest}"
    store.FileBlobStore(str(root), str(tmp_path / "tmp"))  # opening again changes nothing
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted(
        [f"ab/{old_sha}", f"{digest[:2]}/{digest}"])
    with open(blobs.path(old_sha), "rb") as stream:
        assert stream.read() == b"old blob"


def test_a_small_upload_is_kept_in_memory_and_written_once_when_committed(tmp_path: Any) -> None:
    blobs = store.FileBlobStore(str(tmp_path / "blobs"), str(tmp_path / "tmp"))
    content = os.urandom(70_000)
    incoming = blobs.memory_writer()
    for offset in range(0, len(content), 30_000):
        incoming.write(content[offset:offset + 30_000])
    assert (os.listdir(blobs.tmp_dir), os.listdir(blobs.root)) == ([], [])  # nothing on disk yet
    sha256, md5, size = incoming.finish()
    assert (sha256, md5, size) == (hashlib.sha256(content).hexdigest(), hashlib.md5(content).hexdigest(), 70_000)
    assert incoming.source().read() == content
    key = blobs.publish(incoming, sha256)
    with open(os.path.join(blobs.root, key), "rb") as stream:
        assert stream.read() == content
    assert os.listdir(blobs.tmp_dir) == []
    again = blobs.memory_writer()  # the same content again: the same key, the same bytes, nothing left over
    again.write(content)
    assert blobs.publish(again, again.finish()[0]) == key and os.listdir(blobs.tmp_dir) == []


def test_discarded_blob_leaves_nothing(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(store, "DIRECT_IO_MIN_SIZE", 0)
    blobs = store.FileBlobStore(str(tmp_path / "blobs"), str(tmp_path / "tmp"))
    incoming = blobs.writer(10 ** 9)
    incoming.write(os.urandom(1024 * 1024))
    incoming.discard()
    incoming.discard()
    assert os.listdir(blobs.tmp_dir) == []


def test_fast_protocols_are_used_when_installed() -> None:
    options = fast_protocols()
    try:
        import httptools  # noqa: F401
    except ImportError:
        assert options["http"] == "h11"
    else:
        assert options["http"] == "httptools"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        assert options["loop"] == "asyncio"
    else:
        assert options["loop"] == "uvloop"
