"""Errors reach the caller of the public API as documented: HTTP errors with the server's text."""

from __future__ import annotations

import pytest
import requests
from unit_http import root

from hatcher.artefacts.builders import build_egg
from hatcher.errors import BroodHTTPError, ChecksumMismatchError

ERRORS = [
    (401, "Invalid credentials"),
    (403, "Not allowed to upload to acme/dev"),
    (404, "No such repository: 'acme/dev'"),
    (409, "dummy-1.0.1-1.egg already exists; use overwrite"),
]


@pytest.mark.parametrize(("status", "text"), ERRORS, ids=[str(s) for s, _ in ERRORS])
def test_an_upload_refused_by_the_server_raises_http_error_with_its_text(client, mocked, tmp_path, status, text):
    # Given a server that refuses the upload with a JSON error
    egg = build_egg(str(tmp_path))
    url = f"{root(client.api_version)}/data/acme/dev/rh5-x86_64/eggs/upload"
    mocked.post(url, status=status, json={"error": text})
    platform = client.organization("acme").repository("dev").platform("rh5-x86_64")
    # When uploading, Then a requests.HTTPError carries status and text
    with pytest.raises(requests.HTTPError) as info:
        platform.upload_egg(egg)
    assert isinstance(info.value, BroodHTTPError)
    assert info.value.status_code == status
    assert info.value.error_message == text
    assert text in str(info.value)
    assert info.value.response.status_code == status


@pytest.mark.parametrize(("status", "text"), ERRORS, ids=[str(s) for s, _ in ERRORS])
def test_a_listing_refused_by_the_server_raises_http_error_with_its_text(client, mocked, status, text):
    mocked.get(f"{root(client.api_version)}/admin/organizations/acme/repositories", status=status,
               json={"error": text})
    with pytest.raises(BroodHTTPError, match=text.replace("(", r"\(")) as info:
        client.organization("acme").list_repositories()
    assert info.value.status_code == status


def test_a_connection_error_propagates_as_requests_connection_error(client, mocked):
    mocked.get(f"{root(client.api_version)}/metadata/platforms",
               body=requests.ConnectionError("Connection refused"))
    with pytest.raises(requests.ConnectionError):
        client.list_platforms()


def test_a_download_whose_bytes_do_not_match_raises_and_leaves_no_file(client, mocked, tmp_path):
    # Given metadata announcing one sha256 and a body with other bytes
    base = f"{root(client.api_version)}/%s/acme/dev/rh5-x86_64/cp27/eggs/dummy/1.0.1-1"
    mocked.get(base % "metadata", json={"sha256": "0" * 64})
    mocked.get(base % "data", body=b"corrupted", headers={"Content-Disposition": 'attachment; filename="d.egg"'})
    platform = client.organization("acme").repository("dev").platform("rh5-x86_64")
    # When downloading, Then ChecksumMismatchError and nothing in the directory
    with pytest.raises(ChecksumMismatchError, match="d.egg"):
        platform.download_egg("cp27", "dummy", "1.0.1-1", str(tmp_path))
    assert list(tmp_path.iterdir()) == []
