"""Micro-benchmarks of the embedded Brood server alone, on loopback (issue 5's server targets).

Prints the median of ``--repeat`` runs of:

* ingest MB/s of a 1 GiB egg uploaded with curl (multipart, as the REST spec describes);
* download MB/s of that egg with curl;
* p50 ms of a 20,000-egg index fetched repeatedly by one keep-alive client, with and
  without gzip, plus the time of the first (uncached) build;
* p50 ms of small requests: an egg metadata GET (session token) and a small egg upload;
* p50 ms of a Basic request refused for an unknown user and for a known user with a wrong
  password (the two must not tell apart who has an account: within 25 % of each other), on
  a server that never locks out; then, with the default throttle, how many wrong passwords
  are answered 401 before the 429s, and the p50 of those.

Usage::

    python benchmarks/server_micro.py [--work-dir DIR] [--size-mib 1024] [--count 20000] [--auth-only]

The server runs in a separate process (``python -m hatcher.server run``), as in production.
The big egg is built once into the work directory and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import requests

from hatcher.core.utils import compute_sha256

ADMIN = ("admin@example.com", "admin-password")
ORG, INDEX_REPO, UPLOAD_REPO, PLATFORM, TAG = "bench", "index", "upload", "rh7-x86_64", "cp38"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _big_egg(work_dir: str, size_mib: int) -> str:
    from hatcher.artefacts.builders import build_egg

    directory = os.path.join(work_dir, f"egg-{size_mib}")
    path = os.path.join(directory, "big-1.0-1.egg")
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        build_egg(directory, name="big", version="1.0", build=1, platform=PLATFORM, python_tag=TAG,
                  payload_size=size_mib << 20)
    return path


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


class Server:
    def __init__(self, data_dir: str, *options: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, HATCHER_SERVER_RUN_ADMIN=":".join(ADMIN))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hatcher.server", "run", "--data-dir", data_dir, "--port", str(self.port),
             "--log-level", "warning", *options], env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.url + "/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _curl(*args: str) -> float:
    out = subprocess.run(["curl", "-s", "-S", "-f", "-o", "/dev/null", "-w", "%{time_total}", *args],
                         check=True, capture_output=True, text=True).stdout
    return float(out)


def bench_big(server: Server, egg: str, work_dir: str, repeat: int) -> tuple[float, float]:
    size = os.path.getsize(egg)
    data = os.path.join(work_dir, "data.json")
    with open(data, "w") as stream:
        json.dump({"sha256": compute_sha256(egg)}, stream)
    base = f"{server.url}/api/v1/json/data/{ORG}/{UPLOAD_REPO}/{PLATFORM}"
    user = ":".join(ADMIN)
    up = [_curl("-F", f"file=@{egg}", "-F", f'data=@{data};filename="";type=application/json; charset=UTF-8',
                f"{base}/eggs/upload?overwrite=True&enabled=True", "-u", user) for _ in range(repeat)]
    down = [_curl(f"{base}/{TAG}/eggs/big/1.0-1", "-u", user) for _ in range(repeat)]
    return size / _p50(up) / 1e6, size / _p50(down) / 1e6


def _timed_gets(session: requests.Session, url: str, n: int, **kwargs: Any) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = session.get(url, **kwargs)
        response.content  # noqa: B018 - read the body (and decompress it)
        response.raise_for_status()
        samples.append(time.perf_counter() - start)
    return samples


def bench_index(server: Server, n: int) -> dict[str, float]:
    url = f"{server.url}/api/v1/json/indices/{ORG}/{INDEX_REPO}/{PLATFORM}/{TAG}/eggs"
    session = requests.Session()
    session.auth = ADMIN
    first = _timed_gets(session, url, 1)[0]
    gzip_samples = _timed_gets(session, url, n)
    plain = _timed_gets(session, url, n, headers={"Accept-Encoding": "identity"})
    response = session.get(url)
    return {"first_ms": first * 1e3, "gzip_p50_ms": _p50(gzip_samples) * 1e3, "plain_p50_ms": _p50(plain) * 1e3,
            "entries": len(response.json()), "wire_bytes": int(response.headers.get("content-length", 0)),
            "encoding": response.headers.get("content-encoding", "identity")}


def bench_small(server: Server, work_dir: str, n: int) -> dict[str, float]:
    from hatcher.artefacts.builders import build_egg

    session = requests.Session()
    session.auth = ADMIN
    token = session.post(f"{server.url}/api/v1/json/auth/tokens/auth").json()["token"]
    bearer = requests.Session()
    bearer.headers["Authorization"] = f"Bearer {token}"
    directory = tempfile.mkdtemp(dir=work_dir)
    upload_url = f"{server.url}/api/v1/json/data/{ORG}/{UPLOAD_REPO}/{PLATFORM}/eggs/upload"
    post, get = [], []
    for i in range(n):
        egg = build_egg(directory, name=f"small{i}", version="1.0", build=1, platform=PLATFORM, python_tag=TAG)
        with open(egg, "rb") as stream:
            files = {"file": (os.path.basename(egg), stream.read()),
                     "data": ("", json.dumps({"sha256": compute_sha256(egg)}), "application/json; charset=UTF-8")}
        start = time.perf_counter()
        bearer.post(upload_url, params={"overwrite": "False", "enabled": "False"}, files=files).raise_for_status()
        post.append(time.perf_counter() - start)
        get += _timed_gets(bearer, f"{server.url}/api/v1/json/metadata/{ORG}/{UPLOAD_REPO}/{PLATFORM}/"
                                   f"{TAG}/eggs/small{i}/1.0-1", 1)
    shutil.rmtree(directory)
    return {"metadata_get_p50_ms": _p50(get) * 1e3, "small_upload_p50_ms": _p50(post) * 1e3}


def bench_enumeration(server: Server, n: int) -> dict[str, float]:
    """p50 ms of refused Basic requests: an unknown user, and a known user with a wrong password (alternating).

    The server allows more wrong passwords than ``n`` (``--login-failure-limit``), so that
    every request is a real check, counted by the throttle and written to the audit log.
    Then, on a server with the default limit, the p50 of the 429s of a locked-out account.
    """
    url = f"{server.url}/api/v1/json/metadata/user/repositories"
    unknown, wrong = [], []
    with requests.Session() as session:
        for i in range(n):
            for email, samples in ((f"nobody{i}@example.com", unknown), (ADMIN[0], wrong)):
                start = time.perf_counter()
                status = session.get(url, auth=(email, f"wrong-{i}")).status_code
                samples.append(time.perf_counter() - start)
                assert status == 401, status
    return {"unknown_p50_ms": _p50(unknown) * 1e3, "wrong_p50_ms": _p50(wrong) * 1e3}


def bench_lockout(server: Server, n: int) -> dict[str, float]:
    """p50 ms of the 429s a locked-out account gets (10 wrong passwords first), and how many 401s came before."""
    url = f"{server.url}/api/v1/json/metadata/user/repositories"
    statuses, locked = [], []
    with requests.Session() as session:
        for i in range(10 + n):
            start = time.perf_counter()
            status = session.get(url, auth=(ADMIN[0], f"wrong-{i}")).status_code
            statuses.append(status)
            if status == 429:
                locked.append(time.perf_counter() - start)
    return {"allowed": statuses.index(429) if 429 in statuses else len(statuses),
            "locked_p50_ms": _p50(locked) * 1e3}


def _print_enumeration(auth: dict[str, float]) -> None:
    ratio = auth["unknown_p50_ms"] / auth["wrong_p50_ms"]
    verdict = "MET" if 0.75 <= ratio <= 1.25 else "NOT MET"
    print(f"refused Basic p50, unknown user:  {auth['unknown_p50_ms']:8.2f} ms")
    print(f"refused Basic p50, wrong password:{auth['wrong_p50_ms']:8.2f} ms")
    print(f"unknown / wrong: {ratio:.2f} (target 0.75 to 1.25: {verdict})")
    if "locked_p50_ms" in auth:
        print(f"wrong passwords answered 401 before the lockout: {auth['allowed']:d}")
        print(f"locked-out Basic p50 (429):       {auth['locked_p50_ms']:8.2f} ms")


def _bench_auth(work_dir: str, n: int) -> dict[str, float]:
    """Refused logins on two fresh servers: one that never locks out, then one with the default throttle."""
    results: dict[str, float] = {}
    for options, bench in ((("--login-failure-limit", str(10 * n + 10)), bench_enumeration), ((), bench_lockout)):
        data_dir = tempfile.mkdtemp(prefix="data-", dir=work_dir)
        try:
            server = Server(data_dir, *options)
            try:
                results.update(bench(server, n))
            finally:
                server.stop()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "hatcher-server-micro"))
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--index-requests", type=int, default=30)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--auth-requests", type=int, default=40, help="Refused Basic requests of each kind.")
    parser.add_argument("--auth-only", action="store_true", help="Only the refused-Basic timing (no big egg).")
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    if args.auth_only:
        _print_enumeration(_bench_auth(args.work_dir, args.auth_requests))
        return
    egg = _big_egg(args.work_dir, args.size_mib)
    data_dir = tempfile.mkdtemp(prefix="data-", dir=args.work_dir)
    try:
        fill = [sys.executable, "-m", "hatcher.server.bench_data", "--data-dir", data_dir, "--organization", ORG,
                "--platform", PLATFORM, "--python-tag", TAG]
        subprocess.run(fill + ["--repository", INDEX_REPO, "--count", str(args.count)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(fill + ["--repository", UPLOAD_REPO, "--count", "0"], check=True, stdout=subprocess.DEVNULL)
        server = Server(data_dir)
        try:
            index = bench_index(server, args.index_requests)
            ingest, download = bench_big(server, egg, args.work_dir, args.repeat)
            small = bench_small(server, args.work_dir, args.small)
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    auth = _bench_auth(args.work_dir, args.auth_requests)
    print(f"upload ingest ({args.size_mib} MiB, curl):  {ingest:8.1f} MB/s")
    print(f"download ({args.size_mib} MiB, curl):       {download:8.1f} MB/s")
    print(f"index {index['entries']} eggs, first build:    {index['first_ms']:8.1f} ms")
    print(f"index p50, gzip ({index['encoding']}, {index['wire_bytes']} B): {index['gzip_p50_ms']:8.1f} ms")
    print(f"index p50, identity:              {index['plain_p50_ms']:8.1f} ms")
    print(f"small: metadata GET p50:          {small['metadata_get_p50_ms']:8.2f} ms")
    print(f"small: egg upload POST p50:       {small['small_upload_p50_ms']:8.2f} ms")
    _print_enumeration(auth)


if __name__ == "__main__":
    main()
