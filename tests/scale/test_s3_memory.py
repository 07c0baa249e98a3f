"""Bounded server memory on S3: a 512 MiB upload and its download raise a replica's RSS by at most 64 MiB.

The upload streams to a multipart upload (parts of 5 MiB, 4 in flight) and the download streams
from the object, so the server's memory does not grow with the file. The replica is a process of
its own; its resident set size is read from ``/proc/PID/status`` every 20 ms. The 1 GiB figure is
measured in ``benchmarks/run.py``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from stack import ADMIN_EMAIL, ADMIN_PASSWORD, PostgresCluster, ReplicaSet, SeaweedS3

from hatcher.api import BroodClient
from hatcher.artefacts.builders import build_egg
from hatcher.core.download import file_digest

MIB = 1 << 20
EGG_SIZE = 512 * MIB
BOUND = 64 * MIB
PLATFORM, TAG = "rh7-x86_64", "cp38"


def rss(pid: int) -> int:
    """The resident set size of process ``pid``, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def peak_rss(pid: int, operation: Callable[[], object]) -> int:
    """The highest RSS of ``pid`` seen while ``operation`` runs (sampled every 20 ms)."""
    peak = [rss(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss(pid))

    sampler = threading.Thread(target=sample, name="rss-sampler")
    sampler.start()
    try:
        operation()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], rss(pid))


@pytest.fixture(scope="module")
def replica(postgres: PostgresCluster, seaweed: SeaweedS3, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ReplicaSet]:
    """One replica on a database and a prefix of its own."""
    replicas = ReplicaSet(1, tmp_path_factory.mktemp("memory"), database_url=postgres.create_database("memory"),
                          s3=seaweed, prefix="memory")
    with replicas:
        yield replicas


def test_a_large_upload_and_download_through_s3_keep_the_replica_within_64_mib_of_idle(
        replica: ReplicaSet, tmp_path: Path) -> None:
    # Given a replica on S3 that has served a small upload and download already (imports done)
    client = BroodClient.from_url(replica[0].url, auth=(ADMIN_EMAIL, ADMIN_PASSWORD), api_version=1)
    platform = client.create_organization("memory", "memory").create_repository("dev", "dev").platform(PLATFORM)
    small = build_egg(str(tmp_path), name="warmup", version="1.0", build=1, platform=PLATFORM, python_tag=TAG)
    platform.upload_egg(small)
    (tmp_path / "warm").mkdir()
    platform.download_egg(TAG, "warmup", "1.0-1", str(tmp_path / "warm"))
    big = build_egg(str(tmp_path), name="bigmem", version="1.0", build=1, platform=PLATFORM, python_tag=TAG,
                    payload_size=EGG_SIZE)
    pid = replica[0].process.pid
    idle = rss(pid)

    # When a 512 MiB egg is uploaded, then downloaded
    upload_peak = peak_rss(pid, lambda: platform.upload_egg(big))
    target = tmp_path / "down"
    target.mkdir()
    download_peak = peak_rss(pid, lambda: platform.download_egg(TAG, "bigmem", "1.0-1", str(target)))

    # Then the replica's RSS rose by at most 64 MiB each time, and the bytes came back intact
    assert upload_peak - idle <= BOUND, f"upload: {(upload_peak - idle) / MIB:.1f} MiB above idle"
    assert download_peak - idle <= BOUND, f"download: {(download_peak - idle) / MIB:.1f} MiB above idle"
    downloaded = target / os.path.basename(big)
    assert file_digest(str(downloaded)) == file_digest(big)
    print(f"idle {idle / MIB:.0f} MiB; peak above idle: upload {(upload_peak - idle) / MIB:.1f} MiB, "
          f"download {(download_peak - idle) / MIB:.1f} MiB; {time.strftime('%H:%M:%S')}")
