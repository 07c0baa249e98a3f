"""Real artefacts for the auth matrix: fresh files to upload, stored samples to read, delete and re-index.

Every artefact row of the matrix acts on something that exists (or, for an upload, on a
real file that does not exist yet), so that "refused with 404" and "allowed" never look
alike: a caller with the right role must get the spec's exact status, and the change
must be visible afterwards; a refused caller must leave no trace.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import attr
import requests
from artefact_kit import multipart

from hatcher.artefacts import builders
from hatcher.artefacts.runtime import RuntimeV0Info
from hatcher.core.url_templates import urls_for

EGG, RUNTIME_V0, RUNTIME, APP, BUNDLE = "egg", "runtime_v0", "runtime", "app", "bundle"


@attr.s(frozen=True)
class Upload:
    """A multipart upload body and the template values of the artefact it creates."""

    body: bytes = attr.ib(repr=False)
    content_type: str = attr.ib()
    values: dict[str, str] = attr.ib()


def _fresh() -> str:
    return uuid.uuid4().hex[:10]


def _build(kind: str, directory: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """A new artefact file of ``kind``: its path, its ``data`` part (without sha256) and its template values."""
    token = _fresh()
    if kind == EGG:
        name = f"sample{token}"
        path = builders.build_egg(directory, name=name, version="1.0.0", platform="rh7-x86_64", python_tag="cp38")
        return path, {}, {"platform": "rh7-x86_64", "python_tag": "cp38", "name": name, "version": "1.0.0-1"}
    if kind == RUNTIME_V0:
        version = f"2.7.{int(token[:6], 16)}"
        path = builders.build_runtime_v0(directory, version=version)
        info = RuntimeV0Info.from_filename(os.path.basename(path))
        data = {key: getattr(info, key) for key in ("language", "version", "build_system_version", "file_format",
                                                    "build")}
        data["filename"] = os.path.basename(path)
        return path, data, {"platform": "rh5-x86_64", "python_tag": "cp27", "version": f"{version}-1"}
    if kind == RUNTIME:
        version = f"3.8.{int(token[:6], 16)}+1"
        path = builders.build_runtime_v1(directory, version=version)
        return path, {}, {"platform": "rh7-x86_64", "implementation": "cpython", "version": version}
    if kind == APP:
        app_id = f"sample.app{token}"
        path = builders.build_app(directory, id=app_id)
        return path, {}, {"platform": "rh7-x86_64", "python_tag": "cp38", "app_id": app_id, "version": "4.6.0-1"}
    if kind == BUNDLE:
        name = f"bundle{token}"
        path = builders.build_bundle(directory, name=name, version="2.1.0", build=3)
        data = {"bundle_name": name, "bundle_version": "2.1.0", "bundle_build": 3}
        return path, data, {"platform": "rh7-x86_64", "python_tag": "cp38", "name": name, "version": "2.1.0-3"}
    raise ValueError(kind)


def new_upload(kind: str, directory: str) -> Upload:
    """A real, valid upload body for a new artefact of ``kind`` (built in ``directory``)."""
    path, data, values = _build(kind, directory)
    with open(path, "rb") as stream:
        content = stream.read()
    data = {**data, "sha256": hashlib.sha256(content).hexdigest()}
    body, content_type = multipart([("file", os.path.basename(path), content, None),
                                    ("data", "", json.dumps(data).encode("utf-8"), "application/json")])
    return Upload(body, content_type, values)


def _upload_path(kind: str, org: str, repo: str, platform: str) -> str:
    data = urls_for(0 if kind == RUNTIME_V0 else 1).data
    group = {EGG: "eggs", RUNTIME_V0: "runtimes", RUNTIME: "runtimes", APP: "apps", BUNDLE: "bundles"}[kind]
    return getattr(data, group).upload.format(organization_name=org, repository_name=repo, platform=platform)


def _metadata_path(kind: str, org: str, repo: str, values: dict[str, str]) -> str:
    metadata = urls_for(0 if kind == RUNTIME_V0 else 1).metadata.artefacts
    group = {EGG: "eggs", RUNTIME_V0: "runtimes", RUNTIME: "runtimes", APP: "apps", BUNDLE: "bundles"}[kind]
    return getattr(metadata, group).format(organization_name=org, repository_name=repo, **values)


def store(base_url: str, admin_auth: Any, kind: str, org: str, repo: str, directory: str) -> dict[str, str]:
    """Upload a new artefact of ``kind`` as the superuser; its template values."""
    upload = new_upload(kind, directory)
    response = requests.post(base_url + _upload_path(kind, org, repo, upload.values["platform"]),
                             data=upload.body, headers={"Content-Type": upload.content_type},
                             auth=admin_auth, timeout=30)
    assert response.status_code == 201, response.text
    return upload.values


def exists(base_url: str, admin_auth: Any, kind: str, org: str, repo: str, values: dict[str, str]) -> bool:
    """True when the superuser finds the artefact's metadata (200), False for 404; anything else fails."""
    response = requests.get(base_url + _metadata_path(kind, org, repo, values), auth=admin_auth, timeout=30)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200
