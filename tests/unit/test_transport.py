"""BroodURLHandler: construction, JSON calls, errors, streaming uploads and verified downloads."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from types import SimpleNamespace

import pytest
import requests
from unit_http import URL, multipart_parts

from hatcher.core import brood_url_handler as transport
from hatcher.core.brood_url_handler import BroodURLHandler
from hatcher.core.download import PARTIAL_SUFFIX
from hatcher.core.multipart import MultipartUpload
from hatcher.errors import BroodHTTPError, ChecksumMismatchError, HatcherException, MissingFilenameError

PATH = "/api/v1/json/some/endpoint"
ENDPOINT = URL + PATH
PAYLOAD = b"egg bytes \x00\x01" * 50_000  # 600 kB: several download chunks
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def handler() -> BroodURLHandler:
    return BroodURLHandler.from_auth(URL, auth=("jane", "s3cret"))


@pytest.fixture
def artefact(tmp_path):
    """A local file to upload."""
    path = tmp_path / "upload" / "numpy-1.8.0-1.egg"
    path.parent.mkdir()
    path.write_bytes(b"PK\x03\x04 not really an egg" * 100)
    return path


@pytest.fixture
def dest(tmp_path):
    directory = tmp_path / "dest"
    directory.mkdir()
    return directory


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(transport, "time", SimpleNamespace(sleep=lambda seconds: None))


def query(call) -> str:
    return call.request.url.partition("?")[2]


def add_download(mocked, filename="numpy-1.8.0-1.egg"):
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Content-Length": str(len(PAYLOAD))}
    mocked.get(ENDPOINT, body=PAYLOAD, headers=headers)


@pytest.fixture
def closed(monkeypatch) -> list[str]:
    """The URLs of the responses closed during the test."""
    urls: list[str] = []
    original_close = requests.Response.close

    def close(self):
        urls.append(self.url)
        original_close(self)

    monkeypatch.setattr(requests.Response, "close", close)
    return urls


def listing(directory) -> list[str]:
    return sorted(os.listdir(directory))


# -- construction ---------------------------------------------------------------------


def test_from_auth_configures_a_new_session():
    # When
    handler = BroodURLHandler.from_auth(URL, auth=("jane", "s3cret"), verify_ssl=False)
    # Then
    assert handler.session.headers["User-Agent"].startswith("hatcher/")
    assert handler.session.verify is False
    assert handler.session.auth == ("jane", "s3cret")
    assert BroodURLHandler.from_auth(URL).session.verify is True


def test_from_session_uses_the_session_unchanged(mocked):
    # Given
    session = requests.Session()
    session.headers["User-Agent"] = "custom/1.0"
    handler = BroodURLHandler.from_session(URL, session)
    mocked.get(ENDPOINT, json={})
    # When
    handler.get(PATH)
    # Then
    assert handler.session is session
    assert session.headers["User-Agent"] == "custom/1.0"
    assert mocked.calls[0].request.headers["User-Agent"] == "custom/1.0"


@pytest.mark.parametrize(("url", "scheme", "host"), [
    ("brood.test:8080", "http", "brood.test:8080"),
    ("brood.test", "http", "brood.test"),
    ("https://brood.test:8443/prefix/path?q=1#frag", "https", "brood.test:8443"),
])
def test_url_parsing_keeps_scheme_and_host_only(url, scheme, host):
    handler = BroodURLHandler.from_auth(url)
    assert (handler.scheme, handler.host) == (scheme, host)
    assert handler.url("/api/v0/json/x") == f"{scheme}://{host}/api/v0/json/x"
    assert repr(handler) == f"<BroodURLHandler url='{scheme}://{host}'>"


# -- JSON requests --------------------------------------------------------------------


def test_get_sends_no_query_and_get_json_renders_python_booleans(handler, mocked):
    mocked.get(ENDPOINT, json={"repositories": ["acme/dev"]})
    assert handler.get(PATH) is None
    assert handler.get_json(PATH, include_indexable=True) == {"repositories": ["acme/dev"]}
    assert [call.request.url for call in mocked.calls] == [ENDPOINT, ENDPOINT + "?include_indexable=True"]


def test_get_json_gunzips_a_gzip_body_without_content_encoding(handler, mocked):
    mocked.get(ENDPOINT, body=gzip.compress(b'{"platforms": ["rh7-x86_64"]}'), content_type="application/json")
    mocked.get(ENDPOINT, body=b"\x1f\x8bnot gzip at all", content_type="application/json")
    assert handler.get_json(PATH) == {"platforms": ["rh7-x86_64"]}
    with pytest.raises(requests.exceptions.ContentDecodingError):
        handler.get_json(PATH)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-8-sig"])
def test_get_json_sniffs_the_encoding_without_charset(handler, mocked, encoding):
    document = {"name": "caf\u00e9 \u2603"}
    mocked.get(ENDPOINT, body=json.dumps(document, ensure_ascii=False).encode(encoding),
               content_type="application/json")
    assert handler.get_json(PATH) == document


def test_post_sends_exact_json_body(handler, mocked):
    mocked.post(ENDPOINT, json={"name": "acme"}, status=201)
    response = handler.post(PATH, {"name": "acme", "description": "Acme Corp."})
    request = mocked.calls[0].request
    assert request.body == '{"name": "acme", "description": "Acme Corp."}'
    assert request.headers["Content-Type"] == "application/json"
    assert response.json() == {"name": "acme"}


@pytest.mark.parametrize(("data", "body", "content_type"), [
    (None, None, None),
    ({"x": [1, 2]}, '{"x": [1, 2]}', "application/json"),
])
def test_put_sends_a_body_only_when_given(handler, mocked, data, body, content_type):
    mocked.put(ENDPOINT, status=204)
    assert handler.put(PATH, data) is None
    request = mocked.calls[0].request
    assert request.body == body
    assert request.headers.get("Content-Type") == content_type


@pytest.mark.parametrize(("kwargs", "expected"), [({}, "force=False"), ({"force": True}, "force=True")])
def test_delete_always_sends_force(handler, mocked, kwargs, expected):
    mocked.delete(ENDPOINT, status=204)
    assert handler.delete(PATH, **kwargs) is None
    assert query(mocked.calls[0]) == expected


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404, 409, 500])
def test_http_errors_carry_the_server_message(handler, mocked, status):
    mocked.get(ENDPOINT, json={"error": "Repository acme/dev is not empty"}, status=status)
    with pytest.raises(BroodHTTPError) as info:
        handler.get_json(PATH)
    error = info.value
    assert isinstance(error, requests.HTTPError)
    assert error.status_code == status
    assert error.response.status_code == status
    assert error.error_message == "Repository acme/dev is not empty"
    assert str(status) in str(error)
    assert "Repository acme/dev is not empty" in str(error)


def test_http_error_without_json_body_has_a_generic_message(handler, mocked):
    mocked.delete(ENDPOINT, body="<html>Bad Gateway</html>", status=500)
    with pytest.raises(BroodHTTPError) as info:
        handler.delete(PATH)
    assert info.value.error_message is None
    assert info.value.status_code == 500
    message = str(info.value)
    assert message.startswith("500 Internal Server Error: Server Error")
    assert f"DELETE {ENDPOINT}?force=False" in message


def test_connection_error_propagates(handler, mocked):
    mocked.get(ENDPOINT, body=requests.ConnectionError("Connection refused"))
    with pytest.raises(requests.ConnectionError, match="Connection refused"):
        handler.get_json(PATH)


# -- uploads --------------------------------------------------------------------------


def test_upload_sends_exact_multipart_parts(handler, mocked, artefact):
    # Given
    mocked.post(URL + PATH, status=201)
    # When
    handler.upload(PATH, {"sha256": "abc"}, str(artefact), enabled=True)
    # Then
    request = mocked.calls[0].request
    assert query(mocked.calls[0]) == "overwrite=False&enabled=True"
    match = re.fullmatch(r"multipart/form-data; boundary=([0-9a-f]{32})", request.headers["Content-Type"])
    assert match is not None
    body = request.body
    assert isinstance(body, bytes)  # a small body is sent whole, in one piece with the headers
    assert int(request.headers["Content-Length"]) == len(body)
    assert body.endswith(f"--{match.group(1)}--\r\n".encode())
    file_part, data_part = multipart_parts(request)
    assert file_part == {
        "headers": {"Content-Disposition": 'form-data; name="file"; filename="numpy-1.8.0-1.egg"'},
        "content": artefact.read_bytes(),
    }
    assert data_part == {
        "headers": {"Content-Disposition": 'form-data; name="data"; filename=""',
                    "Content-Type": "application/json; charset=UTF-8"},
        "content": b'{"sha256": "abc"}',
    }


@pytest.mark.parametrize(("status", "answer", "confirms"), [
    (201, "SENT", True),                       # 201 describing the very file sent: stored
    (201, "0" * 64, False),                    # another sha256
    (200, "SENT", False), (202, "SENT", False),  # not "Created": maybe processed later
    (201, None, False),                        # no JSON body
])
def test_upload_returns_a_receipt_that_says_whether_the_server_confirms_the_file(handler, mocked, artefact,
                                                                                  status, answer, confirms):
    sent = hashlib.sha256(artefact.read_bytes()).hexdigest()
    if answer is None:
        mocked.post(URL + PATH, status=status)
    else:
        mocked.post(URL + PATH, status=status, json={"sha256": sent if answer == "SENT" else answer, "size": 3})
    receipt = handler.upload(PATH, {"sha256": sent}, str(artefact))
    assert (receipt.status_code, receipt.sha256, receipt.confirms_stored) == (status, sent, confirms)
    assert receipt.answer == (None if answer is None else {"sha256": sent if answer == "SENT" else answer, "size": 3})
    assert "answer" not in repr(receipt)


def test_a_body_up_to_the_whole_body_size_is_sent_as_bytes_a_bigger_one_streams(handler, mocked, artefact,
                                                                                 monkeypatch):
    mocked.post(URL + PATH, status=201)
    for limit, kind in ((10 ** 9, bytes), (0, MultipartUpload)):
        monkeypatch.setattr(transport, "WHOLE_BODY_MAX_SIZE", limit)
        handler.upload(PATH, {"sha256": "abc"}, str(artefact))
        assert isinstance(mocked.calls[-1].request.body, kind)
        assert multipart_parts(mocked.calls[-1].request)[0]["content"] == artefact.read_bytes()


def test_upload_overwrite_without_enabled(handler, mocked, artefact):
    mocked.post(URL + PATH, status=201)
    handler.upload(PATH, {}, str(artefact), overwrite=True)
    assert query(mocked.calls[0]) == "overwrite=True"


def test_upload_streams_the_file_in_chunks_and_reports_progress(handler, mocked, artefact, monkeypatch):
    # Given: 1000-byte reads, a file bigger than what is sent whole, and a transport that records the body
    monkeypatch.setattr("hatcher.core.multipart.CHUNK_SIZE", 1000)
    monkeypatch.setattr(transport, "WHOLE_BODY_MAX_SIZE", artefact.stat().st_size - 1)
    sent_bodies = []
    original_send = handler.session.send

    def record(request, **kwargs):
        sent_bodies.append(request.body)
        chunks = list(request.body)
        request.body = b"".join(chunks)
        record.largest = max(len(chunk) for chunk in chunks)
        return original_send(request, **kwargs)

    monkeypatch.setattr(handler.session, "send", record)
    sizes: list[int] = []
    mocked.post(URL + PATH, status=201)
    # When the data part has no sha256 yet
    handler.upload(PATH, {"sha256": None}, str(artefact), progress=sizes.append)
    # Then the body was a streaming iterable of bounded chunks, not the file read into memory
    assert len(sent_bodies) == 1
    assert isinstance(sent_bodies[0], MultipartUpload)
    assert record.largest <= 1000
    request = mocked.calls[0].request
    assert len(request.body) == int(request.headers["Content-Length"])
    assert sum(sizes) == artefact.stat().st_size
    assert len(sizes) > 2
    # And the sha256 computed on the way is in the data part, which follows the file
    file_part, data_part = multipart_parts(request)
    assert file_part["content"] == artefact.read_bytes()
    assert json.loads(data_part["content"]) == {"sha256": hashlib.sha256(artefact.read_bytes()).hexdigest()}


def test_a_large_file_is_read_ahead_and_hashed_beside_the_sends(handler, mocked, artefact, monkeypatch):
    from hatcher.core import multipart

    monkeypatch.setattr(multipart, "READ_AHEAD_MIN_SIZE", 0)
    monkeypatch.setattr(transport, "WHOLE_BODY_MAX_SIZE", 0)
    mocked.post(URL + PATH, status=201)
    handler.upload(PATH, {"sha256": None}, str(artefact))
    file_part, data_part = multipart_parts(mocked.calls[0].request)
    assert file_part["content"] == artefact.read_bytes()
    assert json.loads(data_part["content"]) == {"sha256": hashlib.sha256(artefact.read_bytes()).hexdigest()}


@pytest.mark.parametrize("read_ahead", [False, True])
def test_a_file_that_changes_size_while_uploading_is_an_error(artefact, monkeypatch, read_ahead):
    from hatcher.core import multipart

    monkeypatch.setattr(multipart, "READ_AHEAD_MIN_SIZE", 0 if read_ahead else 1 << 62)
    # Given a body whose length was computed, then a file that grows before it is read
    body = MultipartUpload(str(artefact), {"sha256": None})
    with open(artefact, "ab") as stream:
        stream.write(b"more")
    # When the body is streamed, Then a clear error instead of a corrupt upload
    with pytest.raises(HatcherException, match="changed size"):
        body.to_bytes()


def test_upload_retries_a_connect_error_with_a_fresh_encoder(handler, mocked, artefact):
    # Given: the first attempt cannot connect at all
    error = requests.exceptions.ConnectionError("Max retries exceeded (NewConnectionError: refused)")
    mocked.post(URL + PATH, body=error)
    mocked.post(URL + PATH, status=201)
    # When
    handler.upload(PATH, {"sha256": "abc"}, str(artefact))
    # Then: the second request carries the whole file again
    assert len(mocked.calls) == 2
    first, second = (multipart_parts(call.request) for call in mocked.calls)
    assert first[0]["content"] == second[0]["content"] == artefact.read_bytes()
    assert second[1]["content"] == b'{"sha256": "abc"}'


@pytest.mark.parametrize(("response", "error"), [
    ({"body": requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")},
     requests.exceptions.ConnectionError),
    ({"body": requests.exceptions.ReadTimeout("read timed out")}, requests.exceptions.ReadTimeout),
    ({"json": {"error": "already uploaded"}, "status": 409}, BroodHTTPError),
])
def test_upload_does_not_retry_other_errors(handler, mocked, artefact, response, error):
    mocked.post(URL + PATH, **response)
    with pytest.raises(error):
        handler.upload(PATH, {}, str(artefact))
    assert len(mocked.calls) == 1


def test_upload_gives_up_after_the_connect_retries(handler, mocked, artefact):
    mocked.post(URL + PATH, body=requests.exceptions.ConnectTimeout("connect timed out"))
    with pytest.raises(requests.exceptions.ConnectTimeout):
        handler.upload(PATH, {}, str(artefact))
    assert len(mocked.calls) == transport.UPLOAD_CONNECT_RETRIES + 1


# -- downloads ------------------------------------------------------------------------


def test_iter_download_takes_the_name_from_content_disposition(handler, mocked, dest, monkeypatch):
    # Given 1000-byte reads
    monkeypatch.setattr("hatcher.core.download.CHUNK_SIZE", 1000)
    add_download(mocked)
    # When
    length, chunks = handler.iter_download(PATH, dest, PAYLOAD_SHA256)
    sizes = list(chunks)
    # Then
    assert length == len(PAYLOAD)
    assert len(mocked.calls) == 1
    assert sum(sizes) == len(PAYLOAD)
    assert len(sizes) > 1
    assert (dest / "numpy-1.8.0-1.egg").read_bytes() == PAYLOAD
    assert listing(dest) == ["numpy-1.8.0-1.egg"]


def test_content_length_is_zero_when_absent(handler, mocked, dest):
    mocked.get(ENDPOINT, body=PAYLOAD, headers={"Content-Disposition": 'attachment; filename="x.egg"'})
    length, chunks = handler.iter_download(PATH, dest, PAYLOAD_SHA256)
    assert (length, sum(chunks)) == (0, len(PAYLOAD))
    assert (dest / "x.egg").read_bytes() == PAYLOAD


def test_downloaded_file_mode_honours_the_umask(handler, mocked, dest):
    add_download(mocked)
    old = os.umask(0o022)
    try:
        handler.download_file(PATH, dest, PAYLOAD_SHA256)
    finally:
        os.umask(old)
    assert (dest / "numpy-1.8.0-1.egg").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("headers", [{}, {"Content-Disposition": "attachment; filename=x.egg"}])
def test_missing_file_name_raises_missing_filename_error(handler, mocked, dest, closed, headers):
    mocked.get(ENDPOINT, body=PAYLOAD, headers=headers)
    with pytest.raises(MissingFilenameError):
        handler.iter_download(PATH, dest, PAYLOAD_SHA256)
    assert listing(dest) == []
    assert closed == [ENDPOINT]


@pytest.mark.parametrize("name", ["../evil.egg", "a/b.egg", ".."])
def test_unsafe_file_name_is_refused(handler, mocked, dest, closed, name):
    add_download(mocked, filename=name)
    with pytest.raises(MissingFilenameError):
        handler.download_file(PATH, dest, PAYLOAD_SHA256)
    assert closed == [ENDPOINT]
    assert listing(dest) == []
    assert listing(dest.parent) == ["dest"]


def test_checksum_mismatch_leaves_no_file(handler, mocked, dest):
    add_download(mocked)
    length, chunks = handler.iter_download(PATH, dest, "0" * 64)
    with pytest.raises(ChecksumMismatchError, match="numpy-1.8.0-1.egg"):
        list(chunks)
    assert listing(dest) == []


def test_existing_file_with_matching_sha_is_not_requested(handler, mocked, dest):
    # Given: the file is already there; no response is registered, so any request fails
    (dest / "numpy-1.8.0-1.egg").write_bytes(PAYLOAD)
    # When
    length, chunks = handler.iter_download(PATH, dest, PAYLOAD_SHA256, filename="numpy-1.8.0-1.egg")
    # Then
    assert (length, list(chunks)) == (0, [0])
    assert len(mocked.calls) == 0


def test_existing_file_with_matching_sha_and_server_name_is_not_rewritten(handler, mocked, dest, closed):
    target = dest / "numpy-1.8.0-1.egg"
    target.write_bytes(PAYLOAD)
    os.utime(target, (1_000_000, 1_000_000))
    add_download(mocked)
    length, chunks = handler.iter_download(PATH, dest, PAYLOAD_SHA256)
    assert (length, list(chunks)) == (len(PAYLOAD), [len(PAYLOAD)])
    assert target.stat().st_mtime == 1_000_000
    assert closed == [ENDPOINT]


def test_a_body_that_keeps_breaking_leaves_only_the_partial_file(handler, mocked, dest, monkeypatch):
    # Given: the body breaks after the first chunk, every time
    def broken_iter_content(self, chunk_size=1, decode_unicode=False):
        yield b"first chunk"
        raise requests.exceptions.ChunkedEncodingError("connection broken")

    monkeypatch.setattr("hatcher.core.download.time.sleep", lambda seconds: None)
    add_download(mocked)
    monkeypatch.setattr(requests.Response, "iter_content", broken_iter_content)
    _, chunks = handler.iter_download(PATH, dest, PAYLOAD_SHA256)
    # When the transfer is resumed and breaks again, more times than it retries
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        list(chunks)
    # Then nothing is under the target name; the partial file is kept for a later resume
    assert listing(dest) == ["numpy-1.8.0-1.egg" + PARTIAL_SUFFIX]


def test_partial_file_exists_only_during_the_transfer(handler, mocked, dest):
    add_download(mocked)
    _, chunks = handler.iter_download(PATH, dest, PAYLOAD_SHA256)
    next(chunks)
    assert listing(dest) == ["numpy-1.8.0-1.egg" + PARTIAL_SUFFIX]
    list(chunks)
    assert listing(dest) == ["numpy-1.8.0-1.egg"]


def test_download_file_replaces_a_stale_file_and_reports_progress(handler, mocked, dest):
    # Given: a file of the same name with other content
    (dest / "renamed.egg").write_bytes(b"stale")
    sizes: list[int] = []
    add_download(mocked)
    # When
    handler.download_file(PATH, dest, PAYLOAD_SHA256, filename="renamed.egg", progress=sizes.append)
    # Then
    assert sum(sizes) == len(PAYLOAD)
    assert (dest / "renamed.egg").read_bytes() == PAYLOAD
    assert listing(dest) == ["renamed.egg"]


@pytest.mark.parametrize("name", ["../evil.egg", "a/b.egg", "..", ""])
def test_a_caller_file_name_that_is_a_path_is_refused_before_any_request(handler, mocked, dest, name):
    # Given a file name that would leave the destination directory, When downloading, Then ValueError
    with pytest.raises(ValueError, match="plain file name"):
        handler.iter_download(PATH, dest, PAYLOAD_SHA256, filename=name)
    assert len(mocked.calls) == 0
    assert listing(dest) == []
