"""Streaming: interrupted uploads leave nothing behind; downloads carry their headers and honour Range."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import time
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import requests
from artefact_kit import Repo, data_files, make_repo, multipart, raw_upload

from hatcher.artefacts import builders
from hatcher.core.url_templates import URLS_V1
from hatcher.server.runner import EmbeddedBrood


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _tmp_files(brood: EmbeddedBrood) -> list[str]:
    return os.listdir(brood.settings.tmp_dir)


def _egg_upload(tmp_path: Any, name: str, payload_size: int) -> tuple[bytes, bytes, str]:
    """A built egg's bytes, and the multipart body (with its Content-Type) that uploads it."""
    egg = _read(builders.build_egg(str(tmp_path), name=name, payload_size=payload_size))
    data = json.dumps({"sha256": hashlib.sha256(egg).hexdigest()}).encode()
    body, content_type = multipart([("file", f"{name}-1.0.1-1.egg", egg, None),
                                    ("data", "", data, "application/json; charset=UTF-8")])
    return egg, body, content_type


def _upload_path(repo: Repo) -> str:
    return repo.path(URLS_V1.data.eggs.upload) + "?overwrite=False&enabled=True"


def _raw_request_head(brood: EmbeddedBrood, path: str, body: bytes, content_type: str) -> bytes:
    """The head of an upload POST with the admin's Basic credentials, to send over a raw socket."""
    credentials = base64.b64encode(":".join(brood.admin_auth).encode()).decode()
    return (f"POST {path} HTTP/1.1\r\nHost: {urlsplit(brood.url).netloc}\r\n"
            f"Authorization: Basic {credentials}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()


@pytest.mark.embedded
def test_interrupted_upload_leaves_nothing(brood: EmbeddedBrood, unique: Callable[[str], str],
                                           tmp_path: Any) -> None:
    repo = make_repo(brood, unique, 1)
    _, body, content_type = _egg_upload(tmp_path, "cut", 2_000_000)
    head = _raw_request_head(brood, _upload_path(repo), body, content_type)
    before = data_files(brood)
    with socket.create_connection((brood.host, brood.port)) as sock:
        sock.sendall(head + body[:len(body) // 2])
        deadline = time.monotonic() + 10
        while not _tmp_files(brood) and time.monotonic() < deadline:
            time.sleep(0.02)  # the server has started writing the file part
        assert _tmp_files(brood)
    deadline = time.monotonic() + 10
    while _tmp_files(brood) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tmp_files(brood) == []
    assert data_files(brood) == before
    platform = repo.platform()
    assert platform.egg_index("cp27") == {}
    url = brood.url + repo.path(URLS_V1.metadata.artefacts.eggs, python_tag="cp27", name="cut", version="1.0.1-1")
    assert requests.get(url, auth=brood.admin_auth, timeout=30).status_code == 404


@pytest.mark.embedded
def test_interrupted_small_upload_leaves_nothing_and_the_server_goes_on(brood: EmbeddedBrood,
                                                                       unique: Callable[[str], str],
                                                                       tmp_path: Any) -> None:
    # A small upload is read whole before anything is done with it: cut it off half-way.
    repo = make_repo(brood, unique, 1)
    egg, body, content_type = _egg_upload(tmp_path, "cutsmall", 20_000)
    path = _upload_path(repo)
    head = _raw_request_head(brood, path, body, content_type)
    before = data_files(brood)
    with socket.create_connection((brood.host, brood.port)) as sock:
        sock.sendall(head + body[:len(body) // 2])
        time.sleep(0.2)
    url = brood.url + repo.path(URLS_V1.metadata.artefacts.eggs, python_tag="cp27", name="cutsmall",
                                version="1.0.1-1")
    assert requests.get(url, auth=brood.admin_auth, timeout=30).status_code == 404  # and the server answers
    assert _tmp_files(brood) == [] and data_files(brood) == before
    # The same upload sent whole is stored.
    answer = requests.post(brood.url + path, data=body, headers={"Content-Type": content_type},
                           auth=brood.admin_auth, timeout=30)
    assert answer.status_code == 201 and answer.json()["sha256"] == hashlib.sha256(egg).hexdigest()


@pytest.mark.embedded
def test_an_unexpected_error_in_the_fast_lane_is_a_json_500(brood: EmbeddedBrood, unique: Callable[[str], str],
                                                            tmp_path: Any, monkeypatch: Any) -> None:
    from hatcher.server.routes import uploads

    repo = make_repo(brood, unique, 1)

    def explode(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(uploads, "_receive_whole", explode)
    _, body, content_type = _egg_upload(tmp_path, "boom", 1000)
    answer = requests.post(brood.url + _upload_path(repo), data=body, headers={"Content-Type": content_type},
                           auth=brood.admin_auth, timeout=30)
    assert answer.status_code == 500
    assert answer.json() == {"error": "Internal server error"}


@pytest.mark.embedded
def test_small_uploads_cheap_to_authenticate_are_stored_on_the_event_loop_the_others_in_a_worker(
        brood: EmbeddedBrood, unique: Callable[[str], str], tmp_path: Any, monkeypatch: Any) -> None:
    import threading

    from hatcher.server import security
    from hatcher.server.routes import uploads

    threads: list[str] = []
    original = uploads._receive_whole

    def record(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args)

    monkeypatch.setattr(uploads, "_receive_whole", record)
    repo = make_repo(brood, unique, 1)
    token = brood.client(api_version=1).create_api_token(unique("token"))["token"]
    monkeypatch.setattr(security._PASSWORDS, "_seen", {})  # the admin's password was not checked lately
    for name, auth in (("freshpassword", brood.admin_auth), ("samepassword", brood.admin_auth), ("token", None)):
        _, body, content_type = _egg_upload(tmp_path, name, 1000)
        headers = {"Content-Type": content_type}
        if auth is None:
            headers["Authorization"] = f"Bearer {token}"
        answer = requests.post(brood.url + _upload_path(repo), data=body, headers=headers, auth=auth, timeout=30)
        assert answer.status_code == 201
    loop = brood._thread.name  # the thread that runs the server's event loop
    assert threads[0] != loop and threads[1:] == [loop, loop]


@pytest.mark.embedded
def test_a_small_upload_waiting_for_the_blob_lock_does_not_hold_up_the_event_loop(
        brood: EmbeddedBrood, unique: Callable[[str], str], tmp_path: Any, monkeypatch: Any) -> None:
    import threading

    from hatcher.server.routes import uploads

    threads: list[str] = []
    original = uploads._receive_whole
    monkeypatch.setattr(uploads, "_receive_whole",
                        lambda *args: threads.append(threading.current_thread().name) or original(*args))
    repo = make_repo(brood, unique, 1)
    token = brood.client(api_version=1).create_api_token(unique("token"))["token"]
    _, body, content_type = _egg_upload(tmp_path, "waiting", 1000)
    answers: list[requests.Response] = []
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
    upload = threading.Thread(target=lambda: answers.append(
        requests.post(brood.url + _upload_path(repo), data=body, headers=headers, timeout=60)))
    lock = brood.app.state.services.coordinator.lock
    with lock:  # as while another thread commits a large upload or removes a repository's blobs
        upload.start()
        deadline = time.monotonic() + 30
        while not threads and upload.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the upload was received and is waiting for the lock
        assert threads, answers
        assert requests.get(brood.url + "/health", timeout=10).status_code == 200  # the loop still answers
    upload.join(60)
    assert [answer.status_code for answer in answers] == [201]
    assert threads != [brood._thread.name]  # it waited in a worker thread


@pytest.mark.embedded
def test_an_upload_cancelled_twice_still_discards_what_it_received(brood: EmbeddedBrood,
                                                                    unique: Callable[[str], str],
                                                                    monkeypatch: Any) -> None:
    # A server shutting down cancels a request's task, and may cancel it again while it cleans up.
    import asyncio
    import threading

    from hatcher.server.routes import uploads

    repo = make_repo(brood, unique, 1)
    feeding = threading.Event()
    original_feed = uploads.MultipartReceiver.feed

    def slow_feed(self: Any, chunk: bytes) -> None:
        feeding.set()
        time.sleep(0.3)  # still feeding when the cancellations come
        original_feed(self, chunk)

    monkeypatch.setattr(uploads.MultipartReceiver, "feed", slow_feed)
    piece = b'--B\r\nContent-Disposition: form-data; name="file"; filename="big-1.0-1.egg"\r\n\r\n'
    piece += b"x" * (uploads._FEED_SIZE + 1)
    credentials = base64.b64encode(":".join(brood.admin_auth).encode())
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": repo.path(URLS_V1.data.eggs.upload), "raw_path": repo.path(URLS_V1.data.eggs.upload).encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
             "headers": [(b"authorization", b"Basic " + credentials),
                         (b"content-type", b"multipart/form-data; boundary=B"),
                         (b"content-length", str(64 * 1024 * 1024).encode())]}

    async def scenario() -> None:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": piece, "more_body": True}
            await asyncio.Event().wait()  # the rest of the body never comes
            return {}

        async def send(message: dict) -> None:
            pass

        task = asyncio.ensure_future(brood.app(scope, receive, send))
        while not feeding.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.01)  # now in its clean-up, waiting for the piece being fed
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        deadline = time.monotonic() + 10
        while _tmp_files(brood) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # the shielded clean-up goes on

    asyncio.run(scenario())
    assert _tmp_files(brood) == []


def test_what_is_cheap_to_authenticate() -> None:
    from hatcher.server import security

    def basic(email: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()

    cache = security._VerifiedPasswords()
    stored = security.hash_password("s3cret")
    original = security._PASSWORDS
    security._PASSWORDS = cache
    try:
        assert security.cheap_to_authenticate("Bearer abc") and security.cheap_to_authenticate(None)
        assert security.cheap_to_authenticate("Basic ###not base64")
        assert not security.cheap_to_authenticate(basic("jane@acme.org", "s3cret"))
        assert cache.check("jane@acme.org", "s3cret", stored)
        assert security.cheap_to_authenticate(basic("jane@acme.org", "s3cret"))
        assert not security.cheap_to_authenticate(basic("jane@acme.org", "wrong"))
        assert not cache.check("jane@acme.org", "wrong", stored)
        assert not security.cheap_to_authenticate(basic("jane@acme.org", "wrong"))
    finally:
        security._PASSWORDS = original


@pytest.mark.embedded
def test_refused_large_upload_still_gets_its_answer(brood: EmbeddedBrood, unique: Callable[[str], str]) -> None:
    repo = make_repo(brood, unique, 1)
    content = os.urandom(8 * 1024 * 1024)
    response = raw_upload(repo, repo.path(URLS_V1.data.eggs.upload), content, "big-1.0-1.egg",
                          auth=("nobody@example.com", "wrong"))
    assert response.status_code == 401 and response.json()["error"]
    assert _tmp_files(brood) == []


def _uploaded(repo: Repo, tmp_path: Any) -> tuple[bytes, str]:
    path = builders.build_egg(str(tmp_path), name="ranged", payload_size=300_000)
    repo.platform().upload_egg(path)
    url = repo.brood.url + repo.path(URLS_V1.data.eggs.download, python_tag="cp27", name="RANGED",
                                     version="1.0.1-1")
    return _read(path), url


def test_download_headers(brood: EmbeddedBrood, unique: Callable[[str], str], tmp_path: Any) -> None:
    repo = make_repo(brood, unique, 1)
    content, url = _uploaded(repo, tmp_path)
    response = requests.get(url, auth=brood.admin_auth, timeout=30)
    assert response.status_code == 200 and response.content == content
    assert response.headers["Content-Disposition"] == 'attachment; filename="ranged-1.0.1-1.egg"'
    assert response.headers["Content-Length"] == str(len(content))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Encoding" not in response.headers


def test_range_download(brood: EmbeddedBrood, unique: Callable[[str], str], tmp_path: Any) -> None:
    repo = make_repo(brood, unique, 1)
    content, url = _uploaded(repo, tmp_path)
    response = requests.get(url, auth=brood.admin_auth, headers={"Range": "bytes=100-1099"}, timeout=30)
    assert response.status_code == 206 and response.content == content[100:1100]
    assert response.headers["Content-Range"] == f"bytes 100-1099/{len(content)}"
    tail = requests.get(url, auth=brood.admin_auth, headers={"Range": "bytes=-50"}, timeout=30)
    assert tail.status_code == 206 and tail.content == content[-50:]
    beyond = requests.get(url, auth=brood.admin_auth, headers={"Range": f"bytes={len(content) + 10}-"}, timeout=30)
    assert beyond.status_code == 416
