"""Helpers of the scale-out tests: raw calls to one replica, eggs, dedicated replica sets, S3 and database listings.

Every call goes straight to the server it names (``requests`` with ``trust_env`` off: no proxy,
no ``.netrc``), so a test knows which replica answered. Names are unique per call
(:func:`unique`): the shared ``replica_set`` may hold what other tests made.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Optional, Sequence

import requests
from stack import ADMIN_EMAIL, ADMIN_PASSWORD, PostgresCluster, ReplicaSet, SeaweedS3
from stack.fixtures import running_replicas
from stack.processes import child_env

from hatcher.core.url_templates import TOKENS_AUTH_PATH

ADMIN = (ADMIN_EMAIL, ADMIN_PASSWORD)
V1 = "/api/v1/json"
PLATFORM = "rh5-x86_64"
PYTHON_TAG = "cp38"
#: Marks "the superuser's credentials" for :func:`call` (``None`` means no credentials at all).
_ADMIN = object()


def unique(prefix: str) -> str:
    """A name no other call returns (lower case letters, digits and ``-``: fit for organizations, repositories)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def call(url: str, method: str, path: str, auth: Any = _ADMIN, timeout: float = 30, **kwargs: Any) -> requests.Response:
    """``method url+path`` (superuser Basic credentials unless ``auth`` is given), never through a proxy."""
    with requests.Session() as session:
        session.trust_env = False
        return session.request(method, url + path, auth=ADMIN if auth is _ADMIN else auth, timeout=timeout,
                               **kwargs)


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of a token (API or session)."""
    return {"Authorization": f"Bearer {token}"}


def is_json_error(response: requests.Response) -> bool:
    """Whether the answer is the server's JSON error: ``{"error": "<text>"}``."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), str) and bool(body["error"])


def create_repository(url: str, organization: Optional[str] = None, repository: str = "dev") -> tuple[str, str]:
    """Create an organization (a new one unless given) and a repository in it, through ``url``; their names."""
    if organization is None:
        organization = unique("org")
        answer = call(url, "POST", f"{V1}/admin/organizations", json={"name": organization, "description": "Scale"})
        assert answer.status_code == 201, f"creating organization {organization}: {answer.status_code} {answer.text}"
    answer = call(url, "POST", f"{V1}/admin/organizations/{organization}/repositories",
                  json={"name": repository, "description": "Scale tests"})
    assert answer.status_code == 201, f"creating {organization}/{repository}: {answer.status_code} {answer.text}"
    return organization, repository


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Egg:
    """An egg file built by :func:`hatcher.artefacts.builders.build_egg`, with what the URLs need."""

    def __init__(self, directory: Path, name: str, version: str = "1.0", build: int = 1, payload_size: int = 0,
                 python_tag: str = PYTHON_TAG) -> None:
        from hatcher.artefacts.builders import build_egg

        directory.mkdir(parents=True, exist_ok=True)
        self.path = Path(build_egg(str(directory), name=name, version=version, build=build, platform=PLATFORM,
                                   python_tag=python_tag, payload_size=payload_size))
        self.name, self.python_tag = name.lower(), python_tag
        self.full_version = f"{version}-{build}"
        self.filename = self.path.name
        self.data = self.path.read_bytes()
        self.sha256 = sha256_of(self.data)

    def upload_body(self, boundary: Optional[str] = None) -> tuple[bytes, str]:
        """A complete upload body (``data`` part, then ``file`` part) and its Content-Type."""
        head, tail, content_type = self.multipart_frame(boundary)
        return head + self.data + tail, content_type

    def multipart_frame(self, boundary: Optional[str] = None) -> tuple[bytes, bytes, str]:
        """What goes before and after the file's bytes in an upload body, and the body's Content-Type."""
        boundary = boundary or uuid.uuid4().hex
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="data"\r\n'
                f'Content-Type: application/json\r\n\r\n{json.dumps({"sha256": self.sha256})}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{self.filename}"\r\n'
                f'Content-Type: application/octet-stream\r\n\r\n').encode()
        return head, f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"

    def upload_path(self, organization: str, repository: str) -> str:
        return f"{V1}/data/{organization}/{repository}/{PLATFORM}/eggs/upload"

    def download_path(self, organization: str, repository: str) -> str:
        return (f"{V1}/data/{organization}/{repository}/{PLATFORM}/{self.python_tag}/eggs/"
                f"{self.name}/{self.full_version}")

    def upload(self, url: str, organization: str, repository: str, auth: Any = _ADMIN,
               body: Optional[tuple[bytes, str]] = None, timeout: float = 60) -> requests.Response:
        """POST the egg to ``url`` (no overwrite); the raw answer."""
        data, content_type = body or self.upload_body()
        return call(url, "POST", self.upload_path(organization, repository), auth=auth, data=data,
                    headers={"Content-Type": content_type}, timeout=timeout)

    def download(self, url: str, organization: str, repository: str, timeout: float = 60,
                 **kwargs: Any) -> requests.Response:
        """GET the egg from ``url``; the raw answer."""
        return call(url, "GET", self.download_path(organization, repository), timeout=timeout, **kwargs)


def index_path(organization: str, repository: str, python_tag: str = PYTHON_TAG) -> str:
    return f"{V1}/indices/{organization}/{repository}/{PLATFORM}/{python_tag}/eggs"


def egg_index_pairs(url: str, organization: str, repository: str,
                    python_tag: str = PYTHON_TAG) -> list[tuple[str, Any]]:
    """The egg index of ``url`` as the ``(file name, entry)`` pairs of its JSON text (duplicates kept)."""
    answer = call(url, "GET", index_path(organization, repository, python_tag))
    assert answer.status_code == 200, f"egg index of {url}: {answer.status_code} {answer.text[:300]}"
    return json.loads(answer.text, object_pairs_hook=_Object).pairs


class _Object(dict):
    """A JSON object that also remembers its members in order, duplicates included."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> Optional[float]:
    """Seconds until ``condition()`` holds (checked at least once), or None after ``timeout`` seconds."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        time.sleep(interval)


def at_once(*actions: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Run each action in a thread of its own, all released together by a barrier; their results, in order.

    An action that raises makes this raise (the first such error), after every thread ended.
    """
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = action()
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=item, name=f"at-once-{item[0]}") for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), f"an action still runs after {timeout} s"
    if errors:
        raise errors[0]
    return results


def session_token(url: str, auth: Any) -> str:
    """A session token from ``url``'s token exchange."""
    answer = call(url, "POST", TOKENS_AUTH_PATH, auth=auth)
    assert answer.status_code == 200, f"token exchange on {url}: {answer.status_code} {answer.text}"
    return answer.json()["token"]


# -- the database and the bucket -------------------------------------------------------------------


def libpq(database_url: str) -> str:
    """The libpq URL of a ``postgresql+psycopg://`` SQLAlchemy URL."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def query(database_url: str, sql: str, *params: Any) -> list[tuple]:
    """The rows of one statement on the replicas' database (autocommit)."""
    import psycopg

    with psycopg.connect(libpq(database_url), autocommit=True, connect_timeout=10) as connection:
        return list(connection.execute(sql, params).fetchall())


def blob_keys(database_url: str) -> dict[str, str]:
    """``{key: sha256}`` of every row of ``blobs``."""
    return {key: sha256 for sha256, key in query(database_url, "SELECT sha256, key FROM blobs")}


def stored_objects(seaweed: SeaweedS3, prefix: str) -> set[str]:
    """The keys (relative to ``prefix``) of every object under ``prefix`` of the session's bucket."""
    import obstore

    return {meta["path"] for batch in obstore.list(seaweed.store(prefix)) for meta in batch}


def run_gc(replicas: ReplicaSet, grace: int = 0, timeout: float = 120) -> subprocess.CompletedProcess:
    """``hatcher server gc --grace N`` on the replicas' database and blob store, with their environment."""
    command = [sys.executable, "-m", "hatcher", "server", "gc", "--database-url", replicas.database_url,
               "--blob-store", replicas.blob_store, "--grace", str(grace)]
    return subprocess.run(command, env=replicas[0].env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


# -- replica sets of a test module's own ---------------------------------------------------------------


@contextlib.contextmanager
def dedicated_replicas(postgres: PostgresCluster, seaweed: SeaweedS3, directory: Path, name: str, count: int = 2,
                       extra_args: Sequence[str] = ()) -> Iterator[ReplicaSet]:
    """``count`` servers on a database and a bucket prefix of their own (both named after ``name``, made unique).

    For the tests that kill, stop or fill their servers, so that the shared ``replica_set`` stays clean.
    """
    label = f"{name}_{uuid.uuid4().hex[:8]}"
    database_url = postgres.create_database(label)
    replicas = ReplicaSet(count, directory, database_url=database_url, s3=seaweed, prefix=label.replace("_", "-"),
                          extra_args=list(extra_args))
    with running_replicas(replicas, name):
        yield replicas


def prefix_of(replicas: ReplicaSet) -> str:
    """The key prefix of the replicas' ``s3://BUCKET/PREFIX`` blob store."""
    return replicas.blob_store.split("/", 3)[3]


# -- the reference client (hatcher 0.17.0, in a virtualenv of its own) -----------------------------------


def reference_module() -> ModuleType:
    """``tests/conformance/reference.py`` (the reference client's virtualenv and how to run it)."""
    if "reference" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "conformance" / "reference.py"
        spec = importlib.util.spec_from_file_location("reference", path)
        assert spec is not None and spec.loader is not None, f"cannot load {path}"
        module = importlib.util.module_from_spec(spec)
        sys.modules["reference"] = module
        spec.loader.exec_module(module)
    return sys.modules["reference"]


def our_cli(url: str, *arguments: Any, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m hatcher -u URL -U ADMIN -p PASSWORD ARGUMENTS...`` (our command line); it must succeed."""
    command = [sys.executable, "-m", "hatcher", "-u", url, "-U", ADMIN[0], "-p", ADMIN[1],
               *(str(argument) for argument in arguments)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=child_env(drop_prefixes=("HATCHER_",)))
    assert done.returncode == 0, f"hatcher {' '.join(command[3:])} exited {done.returncode}: {done.stderr}"
    return done
