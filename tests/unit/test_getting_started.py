"""The Getting Started page runs: its code blocks execute against mocked HTTP and print what it shows."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path

import pytest
import responses

from hatcher.artefacts.builders import build_egg

DOC = Path(__file__).resolve().parents[2] / "docs" / "getting_started.rst"
SERVER = "https://brood.example.com"
V1 = SERVER + "/api/v1/json"
BLOCK_RE = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.M)


def code_blocks() -> list[str]:
    """The python code blocks of the page, dedented."""
    blocks = [re.sub(r"^    ", "", block, flags=re.M) for block in BLOCK_RE.findall(DOC.read_text())]
    assert len(blocks) >= 8, "the page lost its examples"
    return blocks


def expected_output(block: str) -> list[str]:
    """The ``# ...`` lines of a block: what its prints must write."""
    return [line[2:] for line in block.splitlines() if line.startswith("# ")]


@pytest.fixture
def brood(tmp_path: Path) -> responses.RequestsMock:
    """A mocked Brood with the endpoints the page uses; the egg appears after its upload."""
    egg = build_egg(str(tmp_path), name="numpy", version="1.21.2", build=1, platform="rh7-x86_64",
                    python_tag="cp38")
    body = Path(egg).read_bytes()
    sha256 = __import__("hashlib").sha256(body).hexdigest()
    uploaded: list[bool] = []
    egg_path = "/acme/dev/rh7-x86_64/cp38/eggs/numpy/1.21.2-1"

    def metadata(request):  # noqa: ANN001, ANN202
        if not uploaded:
            return 404, {"Content-Type": "application/json"}, json.dumps({"error": "Not Found"})
        return 200, {}, json.dumps({"sha256": sha256, "name": "numpy", "full_version": "1.21.2-1"})

    def upload(request):  # noqa: ANN001, ANN202
        uploaded.append(True)
        return 201, {}, ""

    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add("POST", V1 + "/admin/organizations", status=201)
        rsps.add("GET", V1 + "/admin/organizations", json={"organizations": ["acme"]})
        rsps.add("POST", V1 + "/admin/organizations/acme/repositories", status=201)
        rsps.add_callback("GET", V1 + "/metadata" + egg_path, callback=metadata)
        rsps.add_callback("POST", V1 + "/data/acme/dev/rh7-x86_64/eggs/upload", callback=upload)
        rsps.add("GET", V1 + "/indices/acme/dev/rh7-x86_64/cp38/eggs",
                 json={"numpy-1.21.2-1.egg": {"name": "numpy", "python_tag": "cp38"}})
        rsps.add("GET", V1 + "/data" + egg_path, body=body,
                 headers={"Content-Disposition": 'attachment; filename="numpy-1.21.2-1.egg"'})
        rsps.add("POST", V1 + "/admin/organizations/acme/teams", status=201)
        rsps.add("PUT", V1 + "/admin/teams/acme/uploaders/repositories/dev", status=204)
        rsps.add("POST", V1 + "/admin/organizations/acme/users", status=201)
        rsps.add("POST", V1 + "/auth/tokens/api", json={"name": "ci-uploader", "token": "f00"})
        rsps.add("DELETE", V1 + "/auth/tokens/api/ci-uploader?force=False", status=204)
        yield rsps


def test_getting_started_examples_run_and_print_what_the_page_shows(brood, tmp_path, monkeypatch):
    # Given the page's code blocks, run in order in one namespace, in a directory holding the egg
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in code_blocks():
        # When each block runs
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
        # Then it prints exactly the output the page shows under it
        assert out.getvalue().splitlines() == expected_output(block), block
    # And the walk really uploaded, downloaded and verified the egg
    assert os.listdir(tmp_path / "downloads") == ["numpy-1.21.2-1.egg"]
    downloaded = tmp_path / "downloads" / "numpy-1.21.2-1.egg"
    assert downloaded.read_bytes() == (tmp_path / "numpy-1.21.2-1.egg").read_bytes()
    team_body = json.loads(next(c.request.body for c in brood.calls if c.request.url.endswith("/teams")))
    assert team_body == {"group": "upload_repository", "name": "uploaders"}
    user_body = json.loads(next(c.request.body for c in brood.calls if c.request.url.endswith("/users")))
    assert user_body == {"email": "jane@acme.org", "teams": ["uploaders"]}
