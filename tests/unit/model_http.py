"""Helpers of the object-model tests: the requests a test sent, upload parts, verified-upload scenarios."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable

import pytest
import requests
import responses
from unit_http import multipart_parts, root

from hatcher.errors import ChecksumMismatchError

ORG = "enthought"
REPO = "dev"
PLATFORM = "rh5-x86_64"

#: What the server answers to the metadata GET of a verified upload (see :func:`check_verified_upload`).
VERIFY_OUTCOMES = ("absent", "same", "different", "server-error")


def api(api_version: int, path: str) -> str:
    """The absolute URL of ``path`` below an API version's root."""
    return root(api_version) + path


def sent(mocked: responses.RequestsMock) -> list[str]:
    """``"METHOD absolute-url-with-query"`` of every request sent, in order."""
    return [f"{call.request.method} {call.request.url}" for call in mocked.calls]


def repository_of(client: Any) -> Any:
    """The repository ``enthought/dev`` of ``client``."""
    return client.organization(ORG).repository(REPO)


def platform_of(client: Any, name: str = PLATFORM) -> Any:
    """The platform ``name`` of ``enthought/dev``."""
    return repository_of(client).platform(name)


def upload_parts(call: Any) -> tuple[str, bytes, dict[str, Any]]:
    """``(file part's file name, file bytes, decoded data part)`` of a multipart upload.

    It also checks the part layout every upload shares: ``file`` first, then ``data`` as JSON.
    """
    file_part, data_part = multipart_parts(call.request)
    disposition = file_part["headers"]["Content-Disposition"]
    assert disposition.startswith('form-data; name="file"; filename="')
    assert data_part["headers"] == {
        "Content-Disposition": 'form-data; name="data"; filename=""',
        "Content-Type": "application/json; charset=UTF-8",
    }
    filename = disposition.split('filename="', 1)[1].rstrip('"')
    return filename, file_part["content"], json.loads(data_part["content"])


def file_sha256(path: str) -> str:
    """The hex sha256 of a local file."""
    with open(path, "rb") as fp:
        return hashlib.sha256(fp.read()).hexdigest()


def check_verified_upload(mocked: responses.RequestsMock, outcome: str, metadata_url: str, upload_url: str,
                          local_file: str, upload: Callable[[], Any]) -> None:
    """Given the server answers the metadata GET per ``outcome``, when ``upload()`` runs with
    ``verify=True``, then it uploads only for an absent artefact and raises on a conflict.

    ``upload_url`` is the full URL with its query string.
    """
    local_sha = file_sha256(local_file)
    probe = [f"GET {metadata_url}"]
    if outcome == "absent":
        mocked.get(metadata_url, status=404, json={"error": "not found"})
        mocked.post(upload_url)
        assert upload() is None
        assert sent(mocked) == probe + [f"POST {upload_url}"]
        assert upload_parts(mocked.calls[1])[2]["sha256"] == local_sha
    elif outcome == "same":
        mocked.get(metadata_url, json={"sha256": local_sha})
        assert upload() is None
        assert sent(mocked) == probe
    elif outcome == "different":
        mocked.get(metadata_url, json={"sha256": "0" * 64})
        with pytest.raises(ChecksumMismatchError, match=os.path.basename(local_file).replace("+", r"\+")):
            upload()
        assert sent(mocked) == probe
    else:
        mocked.get(metadata_url, status=500, json={"error": "boom"})
        with pytest.raises(requests.HTTPError) as info:
            upload()
        assert info.value.response.status_code == 500
        assert sent(mocked) == probe
