"""Helpers of the artefact tests: a fresh repository per test, raw uploads, data-directory listings."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any, Callable, Optional

import attr
import requests

from hatcher.core.url_templates import urls_for
from hatcher.server.db import Blob
from hatcher.server.runner import EmbeddedBrood


@attr.s(auto_attribs=True)
class Repo:
    """An organization with one repository, made through the API by the superuser."""

    brood: EmbeddedBrood
    client: Any
    api_version: int
    org: str
    name: str

    @property
    def handle(self) -> Any:
        """The client's Repository."""
        return self.client.organization(self.org).repository(self.name)

    def platform(self, name: str = "rh5-x86_64") -> Any:
        """The client's SinglePlatformRepository."""
        return self.handle.platform(name)

    @property
    def urls(self) -> Any:
        return urls_for(self.api_version)

    def path(self, node: Any, **kwargs: Any) -> str:
        """Fill a URL template with this repository's names."""
        kwargs.setdefault("platform", "rh5-x86_64")
        return node.format(organization_name=self.org, repository_name=self.name, **kwargs)


def make_repo(brood: EmbeddedBrood, unique: Callable[[str], str], api_version: int) -> Repo:
    client = brood.client(api_version=api_version)
    org = unique("org")
    client.create_organization(org, "Artefact tests").create_repository("dev", "Development")
    return Repo(brood, client, api_version, org, "dev")


def sha256_of(path: str) -> str:
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def data_files(brood: EmbeddedBrood) -> set[str]:
    """Every file under the server's tmp/ and blobs/ directories (the stored objects, for replicas on S3).

    On S3 an upload in flight is a multipart upload, not an object, so it is not listed.
    """
    settings = getattr(brood, "settings", None)
    if settings is None:
        return set(brood.app.state.store.objects(older_than=float("inf")))
    found = set()
    for root in (settings.tmp_dir, settings.blob_dir):
        for directory, _, names in os.walk(root):
            found.update(os.path.join(directory, name) for name in names)
    return found


def blob_stored(brood: EmbeddedBrood, sha256: str) -> bool:
    """True when the server has a blob of this digest: its row, and its object in the blob store."""
    with brood.app.state.sessionmaker() as db:
        blob = db.get(Blob, sha256)
    return blob is not None and blob.key in set(brood.app.state.store.objects(older_than=float("inf")))


def multipart(parts: list[tuple[str, Optional[str], bytes, Optional[str]]],
              boundary: Optional[str] = None) -> tuple[bytes, str]:
    """A multipart/form-data body from ``(name, filename or None, content, content type or None)`` parts."""
    boundary = boundary or uuid.uuid4().hex
    chunks = []
    for name, filename, content, content_type in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks.append(head.encode("utf-8") + b"\r\n" + content + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def raw_upload(repo: Repo, path: str, content: bytes, filename: str, data: Any = None,
               params: str = "?overwrite=False", auth: Any = None, data_part: bool = True) -> requests.Response:
    """POST a hand-made upload body to ``path`` (a full API path); ``data`` defaults to the content's sha256."""
    if data is None:
        data = {"sha256": hashlib.sha256(content).hexdigest()}
    raw_data = data if isinstance(data, bytes) else json.dumps(data).encode("utf-8")
    parts = [("file", filename, content, None)]
    if data_part:
        parts.append(("data", "", raw_data, "application/json; charset=UTF-8"))
    body, content_type = multipart(parts)
    return requests.post(repo.brood.url + path + params, data=body, headers={"Content-Type": content_type},
                         auth=auth or repo.brood.admin_auth, timeout=30)
