"""Issue 8's scale-out benchmarks: S3 against files, replicas on PostgreSQL, the index on PostgreSQL.

Run by ``benchmarks/run.py`` (``--only scale``, or one part: ``scale-s3``, ``scale-batch``,
``scale-index``); it starts, once for the whole group, a PostgreSQL cluster and a SeaweedFS S3
server from the test stack (``tests/stack``), and stops them, with every server and nginx it
started, before it returns, failure or not.

* **S3 against files** (``scale-s3``): three servers, each a ``python -m hatcher.server run``
  process: files + SQLite (the default server), S3 + SQLite (the same database: the fair
  comparison) and S3 + PostgreSQL (as replicas are deployed; informative). Our client uploads
  the big egg (``--size-mib``) to a fresh repository of each, then downloads it from each, the
  servers taking turns within a run; the wall time of each client process is the figure, as
  in the upload and download rows of the main table. The servers run with ``--gc-grace 0`` (the
  default for files, not for S3): the blob of a deleted repository goes at once, so every
  upload stores the egg anew whatever the store. During each transfer the server's RSS is
  sampled every 50 ms from ``/proc/PID/status``, and its exact peak read from ``VmHWM``, reset
  beforehand through ``/proc/PID/clear_refs``: the figure is that peak minus the RSS just
  before the transfer. The CPU seconds of the server, SeaweedFS and the client are read too.
* **Batch upload on replicas** (``scale-batch``): ``hatcher eggs batch-upload --jobs 8`` of
  ``--batch`` small eggs into a fresh repository, through nginx (round robin, one worker) in
  front of 1, 2 and 3 replicas on one PostgreSQL database and one S3 prefix. nginx is in front
  of one replica too, so that every count pays the same proxy hop. The eggs are built anew for
  each run (a new build number): an egg whose content the server already holds is not sent to
  S3 again, so reusing them would measure less work. Where the time goes, per run: the CPU
  seconds of the replicas, of every PostgreSQL process, of SeaweedFS, of nginx and of the
  client (``/proc/PID/stat``, processes and their reaped children), and of everything else on
  the machine (``/proc/stat``); PostgreSQL's commits, write transactions, WAL flushes and the
  time its backends were active (``pg_stat_database``, ``pg_stat_wal``, the transaction-ID
  counter); SeaweedFS's S3 requests and the time it spent answering them (its Prometheus
  counters, ``-metricsPort``). A backend may hold its statistics back for up to 10 s, so the
  database's counters are read 11 s after each run (the reading after a run is the one before
  the next: the repositories are all made beforehand), and a warm-up batch goes first.
* **The egg index on PostgreSQL** (``scale-index``): ``--index-eggs`` eggs written by
  ``hatcher.server.bench_data`` into a PostgreSQL database; per run a server is started on it,
  one index of another Python tag is fetched (it warms the password check and the route), the
  first GET of the big index is timed (it builds the index from the database: "cold"), then
  ``--index-requests`` ``curl --compressed`` GETs (p50, the target's figure) and as many
  ``egg_index`` calls by our client in one process.

PostgreSQL runs with its durable defaults (``fsync``, ``synchronous_commit`` and
``full_page_writes`` on: a commit waits for its WAL flush), unlike the test stack;
``--pg-fast`` gives it the test stack's settings instead.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from typing import Any, Callable, Iterable, Optional, Sequence

from run import (
    ADMIN,
    INDEX_REPO,
    MIB,
    ORG,
    PLATFORM,
    REPO_ROOT,
    TAG,
    Child,
    ChildFailed,
    Clients,
    build_small_eggs,
    clean_environment,
    median,
    order,
    run_child,
    settle,
)

TESTS = os.path.join(REPO_ROOT, "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from stack import Nginx, PostgresCluster, Replica, ReplicaSet, SeaweedS3, ServiceUnavailable  # noqa: E402
from stack.postgres import USER as PG_USER  # noqa: E402
from stack.processes import HOST, free_port  # noqa: E402

#: The S3 bucket of the whole group; each part writes under a prefix of its own.
BUCKET = "hatcher-bench"
#: The servers of the S3 comparison: key -> blob store and database.
STORES = {"file": "files, SQLite", "s3": "S3, SQLite", "s3_pg": "S3, PostgreSQL",
          "s3_direct": "S3 alone, no server (obstore)"}
#: The S3 floor: the egg put to (and got from) SeaweedFS by a process of its own, as the server does it
#: (a multipart upload in 5 MiB parts, 4 in flight; a streamed GET), with no hatcher server in between.
DIRECT_S3 = r"""
import json, os, sys, time
import obstore
from obstore.store import S3Store

operation, path, key = sys.argv[1:4]
env = os.environ
store = S3Store(env["BENCH_S3_BUCKET"], endpoint=env["AWS_ENDPOINT_URL"], region=env["AWS_REGION"],
                access_key_id=env["AWS_ACCESS_KEY_ID"], secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                virtual_hosted_style_request=False, client_options={"allow_http": True, "timeout": "600s"})
start = time.perf_counter()
if operation == "put":
    with open(path, "rb", buffering=0) as source:
        writer = obstore.open_writer(store, key, buffer_size=5 << 20, max_concurrency=4)
        while True:
            chunk = source.read(4 << 20)
            if not chunk:
                break
            writer.write(chunk)
        writer.close()
else:
    with open(path, "wb") as target:
        for chunk in obstore.get(store, key).stream(min_chunk_size=1 << 20):
            target.write(chunk)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- PostgreSQL and SeaweedFS, as the benchmark runs them -------------------------------------------------


class BenchPostgres(PostgresCluster):
    """The test stack's cluster, durable unless told otherwise, with WAL I/O timing on.

    Parameters
    ----------
    durable
        Whether commits wait for their WAL flush (``fsync``, ``synchronous_commit`` and
        ``full_page_writes`` on, PostgreSQL's defaults); the test stack turns them off.
    """

    def __init__(self, durable: bool = True) -> None:
        super().__init__()
        self.durable = durable

    def _options(self) -> str:
        # A setting given twice on the command line takes its last value.
        durable = " -c fsync=on -c full_page_writes=on -c synchronous_commit=on" if self.durable else ""
        return super()._options() + durable + " -c track_wal_io_timing=on"

    def postmaster_pid(self) -> Optional[int]:
        """The postmaster's PID (from ``postmaster.pid``), ``None`` when it is not running."""
        try:
            with open(os.path.join(self.data, "postmaster.pid"), encoding="ascii") as stream:
                return int(stream.readline())
        except (OSError, ValueError, RuntimeError):
            return None


class MeteredSeaweed(SeaweedS3):
    """SeaweedFS ``weed mini`` with its Prometheus metrics on a loopback port (``-metricsPort``)."""

    def __init__(self, directory: str, bucket: str) -> None:
        super().__init__(directory, bucket)
        self.metrics_port = free_port()

    def command(self) -> list[str]:
        """The test stack's command line, plus ``-metricsPort``."""
        return [*super().command(), f"-metricsPort={self.metrics_port}"]

    def s3_requests(self) -> Optional[dict[str, tuple[float, float]]]:
        """``{type: (requests, seconds)}`` of S3 requests to :data:`BUCKET` so far; ``None`` without metrics.

        The types are SeaweedFS's: ``PUT`` (an object or a part of a multipart upload),
        ``POST`` (starting or completing a multipart upload), ``GET``, ``HEAD``, ``DELETE``...;
        the seconds are SeaweedFS's own time answering them, summed over requests.
        """
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.metrics_port}/metrics", timeout=5) as response:
                text = response.read().decode("utf-8", "replace")
        except OSError:
            return None
        found: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for match in re.finditer(r"^SeaweedFS_s3_request_seconds_(count|sum)\{([^}]*)\} (\S+)$", text, re.MULTILINE):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            if labels.get("bucket") == self.bucket:
                found[labels.get("type", "?")][0 if match.group(1) == "count" else 1] += float(match.group(3))
        return {kind: (values[0], values[1]) for kind, values in found.items()}


class PostgresStats:
    """Counters of one database and of the WAL, read on a connection to another database.

    Statistics reach the shared counters when a backend flushes its own, up to 10 s after its
    transaction: :meth:`settled` waits for that. They are read from the ``postgres`` database,
    so that reading them adds nothing to the counters of the database measured.
    """

    def __init__(self, port: int, database: str) -> None:
        self.port, self.database = port, database

    def read(self) -> dict[str, float]:
        """The counters now."""
        import psycopg

        with psycopg.connect(host=HOST, port=self.port, user=PG_USER, dbname="postgres", autocommit=True) as db:
            commits, rollbacks, active_ms = db.execute(
                "SELECT xact_commit, xact_rollback, active_time FROM pg_stat_database WHERE datname = %s",
                (self.database,)).fetchone()
            wal_syncs, wal_sync_ms, wal_bytes = db.execute(
                "SELECT wal_sync, wal_sync_time, wal_bytes FROM pg_stat_wal").fetchone()
            next_xid = db.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()[0]
        return {"commits": float(commits), "rollbacks": float(rollbacks), "active_s": float(active_ms) / 1e3,
                "wal_syncs": float(wal_syncs), "wal_sync_s": float(wal_sync_ms) / 1e3, "wal_bytes": float(wal_bytes),
                "write_xacts": float(next_xid)}

    def settled(self, at_least: float = 11.0, timeout: float = 30.0) -> dict[str, float]:
        """The counters once every backend has flushed its own (after ``at_least`` s; ``timeout`` at most).

        A backend that goes idle less than a second after its last flush puts the next one off
        by 10 s (PostgreSQL 15's ``PGSTAT_IDLE_INTERVAL``): the counters are read after 11 s,
        and again until two readings agree.
        """
        started = time.monotonic()
        time.sleep(at_least)
        previous = self.read()
        while True:
            time.sleep(0.5)
            now = self.read()
            if all(now[key] == previous[key] for key in ("commits", "rollbacks", "wal_syncs")) or \
                    time.monotonic() - started > timeout:
                return now
            previous = now


# -- CPU and memory of processes -------------------------------------------------------------------------


def process_table() -> dict[int, tuple[int, float]]:
    """``{pid: (parent pid, CPU seconds)}`` of every process; the seconds include its reaped children."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stream:
                data = stream.read()
        except OSError:
            continue  # gone meanwhile
        fields = data[data.rindex(b")") + 2:].split()
        # utime, stime, cutime, cstime: fields 14 to 17 of proc(5), all threads included.
        table[int(name)] = (int(fields[1]), sum(int(value) for value in fields[11:15]) / CLOCK_TICKS)
    return table


def tree_seconds(table: dict[int, tuple[int, float]], roots: Iterable[Optional[int]]) -> float:
    """CPU seconds of the processes ``roots`` and all their descendants in ``table``."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    seen: set[int] = set()
    stack = [pid for pid in roots if pid is not None and pid in table]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children[pid])
    return sum(table[pid][1] for pid in seen)


def machine_seconds() -> dict[str, float]:
    """Machine-wide CPU seconds so far (``/proc/stat``): busy (user, nice, system, irq, softirq), iowait, steal."""
    with open("/proc/stat", encoding="ascii") as stream:
        values = [int(value) for value in stream.readline().split()[1:]]
    user, nice, system, _idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return {"busy": (user + nice + system + irq + softirq) / CLOCK_TICKS, "iowait": iowait / CLOCK_TICKS,
            "steal": steal / CLOCK_TICKS}


class CpuSnapshot:
    """The CPU seconds of named groups of process trees, and of the machine, at one moment.

    Parameters
    ----------
    groups
        ``{name: function returning the root PIDs of the group}``.
    """

    def __init__(self, groups: dict[str, Callable[[], Sequence[Optional[int]]]]) -> None:
        self.time = time.perf_counter()
        self.machine = machine_seconds()
        table = process_table()
        self.groups = {name: tree_seconds(table, roots()) for name, roots in groups.items()}

    def since(self, before: CpuSnapshot) -> dict[str, float]:
        """CPU seconds of each group, and of the machine, between ``before`` and this snapshot."""
        out = {name: self.groups[name] - before.groups[name] for name in self.groups}
        out.update({f"machine_{key}": self.machine[key] - before.machine[key] for key in self.machine})
        out["wall"] = self.time - before.time
        return out


def read_status_kib(pid: int, field: str) -> Optional[int]:
    """A ``kB`` field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``), in KiB; ``None`` if unreadable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as stream:
            match = re.search(rf"^{field}:\s*(\d+) kB", stream.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


class RssSampler:
    """The peak RSS of a process while the ``with`` block runs, and its RSS just before.

    ``VmRSS`` is sampled every ``interval`` s in a thread; when the peak counter ``VmHWM`` can
    be reset (``echo 5 > /proc/PID/clear_refs``: Linux, and the right to do so), its value at
    the end counts too, so that a peak between two samples is not missed.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.idle = self.peak = 0
        self.exact = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, (read_status_kib(self.pid, "VmRSS") or 0) * 1024)

    def __enter__(self) -> RssSampler:
        self.idle = self.peak = (read_status_kib(self.pid, "VmRSS") or 0) * 1024
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w", encoding="ascii") as stream:
                stream.write("5")
            self.exact = True
        except OSError:
            self.exact = False
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.exact:
            self.peak = max(self.peak, (read_status_kib(self.pid, "VmHWM") or 0) * 1024)

    @property
    def above_idle(self) -> int:
        """Peak minus the RSS before, in bytes."""
        return max(0, self.peak - self.idle)


# -- tables -------------------------------------------------------------------------------------------------


def render(title: str, header: Sequence[str], lines: Sequence[Sequence[str]], notes: Sequence[str] = ()) -> str:
    """A plain-text table (reStructuredText "simple table" rules) under ``title``, then ``notes``."""
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def row(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    rule = "  ".join("=" * width for width in widths)
    return "\n".join([title, "", rule, row(header), rule, *[row(line) for line in lines], rule,
                      *[f"note: {note}" for note in notes]])


def cell(value: Optional[float], fmt: str = "{:.2f}") -> str:
    """``value`` formatted, or ``-`` when it was not measured."""
    return "-" if value is None else fmt.format(value)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """``a / b``, ``None`` when either is missing."""
    return a / b if a is not None and b else None


# -- the benchmark ------------------------------------------------------------------------------------------


class ScaleBench:
    """The scale-out group: starts its services, measures the parts asked for, stops everything.

    Parameters
    ----------
    options
        ``benchmarks/run.py``'s options (``runs``, ``size``, ``batch``, ``scale_jobs``,
        ``replicas``, ``index_eggs``, ``index_requests``, ``pg_fast``).
    workdir
        Scratch directory (SeaweedFS's data, the servers' data and logs, the eggs).
    clients
        How to run our client and curl.
    """

    def __init__(self, options: argparse.Namespace, workdir: str, clients: Clients) -> None:
        self.options = options
        self.clients = clients
        self.directory = tempfile.mkdtemp(prefix="scale-", dir=workdir)
        self.env = clean_environment()
        self.postgres: Optional[BenchPostgres] = None
        self.s3: Optional[MeteredSeaweed] = None
        self._cleanups: list[Callable[[], Any]] = []
        self._repositories = 0
        self.figures: dict[str, Any] = {}
        self.tables: list[str] = []

    @staticmethod
    def log(text: str) -> None:
        """Progress, on stderr."""
        print(text, file=sys.stderr, flush=True)

    # services

    def start(self) -> None:
        """Start PostgreSQL and SeaweedFS (stopped by :meth:`close`)."""
        self.log("scale: starting PostgreSQL and SeaweedFS ...")
        self.postgres = BenchPostgres(durable=not self.options.pg_fast)
        self._cleanups.append(self.postgres.close)
        self.postgres.start()
        self.s3 = MeteredSeaweed(os.path.join(self.directory, "s3"), BUCKET)
        self._cleanups.append(self.s3.stop)
        self.s3.start()

    def close(self) -> None:
        """Stop every process started (servers, nginx, SeaweedFS, PostgreSQL), last started first."""
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception as error:  # noqa: BLE001 - stop the others all the same
                print(f"scale: could not stop {cleanup}: {error}", file=sys.stderr)

    def _stopping(self, stop: Callable[[], Any]) -> Callable[[], None]:
        """Register ``stop`` for :meth:`close`; the returned function runs it now and unregisters it."""
        self._cleanups.append(stop)

        def now() -> None:
            if stop in self._cleanups:
                self._cleanups.remove(stop)
            stop()

        return now

    def server_env(self) -> dict[str, str]:
        """A server's environment: no proxy for loopback, and the S3 server's ``AWS_*`` variables."""
        assert self.s3 is not None
        env = {key: value for key, value in self.env.items() if not key.startswith("AWS_")}
        return {**env, **self.s3.env()}

    def server(self, name: str, *arguments: str) -> Replica:
        """Start a server (``python -m hatcher.server run``) in a directory of its own, stopped by :meth:`close`."""
        here = os.path.join(self.directory, name)
        os.makedirs(here, exist_ok=True)
        replica = Replica(["--admin", ":".join(ADMIN), "--log-level", "warning", *arguments],
                          os.path.join(here, "server.log"), env=self.server_env())
        self._cleanups.append(replica.stop)
        replica.start()
        return replica

    # repositories

    def fresh_repository(self, url: str, prefix: str) -> str:
        """A new repository of :data:`ORG` on the server at ``url`` (the organization is made when missing)."""
        from hatcher.api import BroodClient

        admin = BroodClient.from_url(url, auth=ADMIN, api_version=1)
        self._repositories += 1
        name = f"{prefix}-{self._repositories}"
        try:
            admin.organization(ORG).create_repository(name, "benchmark")
        except Exception:  # noqa: BLE001 - the organization does not exist yet
            admin.create_organization(ORG, "benchmark")
            admin.organization(ORG).create_repository(name, "benchmark")
        return name

    def drop_repository(self, url: str, name: str) -> None:
        """Delete the repository ``name`` and its eggs (best effort)."""
        from hatcher.api import BroodClient

        try:
            BroodClient.from_url(url, auth=ADMIN, api_version=1).organization(ORG).repository(name).delete(force=True)
        except Exception as error:  # noqa: BLE001 - cleaning up is best effort
            self.log(f"  (could not delete repository {name}: {error})")

    @staticmethod
    def worker_args(url: str, operation: str, repository: str, **extra: Any) -> dict:
        """The arguments of ``benchmarks/_worker.py`` for ``operation`` on ``repository`` at ``url``."""
        return dict(operation=operation, url=url, auth=list(ADMIN), organization=ORG, repository=repository,
                    platform=PLATFORM, python_tag=TAG, **extra)

    # the parts

    def run(self, parts: set[str], egg: Optional[str]) -> None:
        """Start the services, run ``parts`` (``egg``: the big egg, for ``scale-s3``), stop everything.

        A program or package the group needs that is missing (PostgreSQL, ``weed``, obstore,
        nginx) leaves the rest of it unmeasured, with a message, instead of failing the benchmark.
        """
        try:
            self.start()
            if "scale-s3" in parts and egg is not None:
                self.bench_s3(egg)
            if "scale-batch" in parts:
                self.bench_batch()
            if "scale-index" in parts:
                self.bench_index()
        except ServiceUnavailable as error:
            self.log(f"scale: not measured, a service cannot run here: {error}")
            self.tables.append(f"scale-out group: not measured ({error})")
        finally:
            self.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def bench_s3(self, egg: str) -> None:
        """The big egg up and down through files + SQLite, S3 + SQLite and S3 + PostgreSQL, taking turns."""
        assert self.postgres is not None and self.s3 is not None
        size = os.path.getsize(egg)
        self.log(f"scale: {size / MIB:.0f} MiB egg through files and S3, {self.options.runs} runs ...")
        # No grace period (the default for files only): a deleted repository's blob goes at once, so
        # that every upload of the same egg stores it anew, whatever the store.
        servers = {
            "file": self.server("file", "--gc-grace", "0", "--data-dir", os.path.join(self.directory, "file", "data")),
            "s3": self.server("s3", "--gc-grace", "0", "--data-dir", os.path.join(self.directory, "s3-sqlite", "data"),
                              "--blob-store", f"s3://{BUCKET}/s3-sqlite"),
            "s3_pg": self.server("s3-pg", "--gc-grace", "0", "--database-url", self.postgres.create_database("s3"),
                                 "--blob-store", f"s3://{BUCKET}/s3-pg"),
        }
        results: dict[str, dict[str, list]] = {who: defaultdict(list) for who in STORES}
        for run in range(self.options.runs):
            for who in order(STORES, run):
                if who == "s3_direct":
                    child = self.direct_s3(results[who], "put", egg, f"direct/{run}")
                    self.log(f"  run {run + 1} upload {who}: {child.wall:.2f} s")
                    continue
                server = servers[who]
                repository = self.fresh_repository(server.url, f"up-{who.replace('_', '-')}")
                child = self.transfer(results[who], "upload", server, self.worker_args(server.url, "upload",
                                                                                       repository, path=egg))
                self.drop_repository(server.url, repository)
                self.log(f"  run {run + 1} upload {who}: {child.wall:.2f} s, "
                         f"server +{results[who]['upload_above_idle'][-1] / MIB:.0f} MiB")
        name, version = os.path.basename(egg)[:-4].split("-", 1)
        sources = {}
        for who, server in servers.items():
            sources[who] = self.fresh_repository(server.url, f"down-{who.replace('_', '-')}")
            self.worker_upload(server.url, sources[who], egg)
        for run in range(self.options.runs):
            for who in order(STORES, run):
                destination = tempfile.mkdtemp(prefix=f"down-{who}-", dir=self.directory)
                try:
                    if who == "s3_direct":
                        child = self.direct_s3(results[who], "get", os.path.join(destination, "egg"), "direct/0")
                    else:
                        server = servers[who]
                        child = self.transfer(results[who], "download", server, self.worker_args(
                            server.url, "download", sources[who], name=name, version=version,
                            destination=destination))
                    files = [os.path.join(destination, f) for f in os.listdir(destination)]
                    if len(files) != 1 or os.path.getsize(files[0]) != size:
                        raise ChildFailed(f"{who}: the egg was not downloaded: {files}")
                finally:
                    shutil.rmtree(destination, ignore_errors=True)
                above = results[who].get("download_above_idle")
                self.log(f"  run {run + 1} download {who}: {child.wall:.2f} s"
                         + (f", server +{above[-1] / MIB:.0f} MiB" if above else ""))
        for server in servers.values():
            server.stop()
        figures: dict[str, Any] = {"size": size}
        for who, values in results.items():
            figures[who] = {key: median(value) if not key.endswith("_above_idle") else max(value)
                            for key, value in values.items()}
            figures[who]["runs"] = dict(values)
        for operation in ("upload", "download"):
            for who in ("s3", "s3_pg", "s3_direct"):
                figures[who][f"{operation}_ratio"] = ratio(figures[who][operation], figures["file"][operation])
        self.figures["s3"] = figures
        lines = []
        for who, label in STORES.items():
            row = figures[who]
            mib = {key: row[key] / MIB if key in row else None
                   for key in ("idle_rss", "upload_above_idle", "download_above_idle")}
            lines.append([label, cell(row["upload"]), cell(row.get("upload_ratio")),
                          cell(row["download"]), cell(row.get("download_ratio")),
                          cell(mib["idle_rss"], "{:.0f}"), cell(mib["upload_above_idle"], "{:.0f}"),
                          cell(mib["download_above_idle"], "{:.0f}")])
        cpu_lines = [[label, *(cell(figures[who].get(f"{operation}_cpu_{part}")) for operation in ("upload", "download")
                               for part in ("server", "seaweedfs", "client"))]
                     for who, label in STORES.items()]
        self.tables.append(render(
            f"S3 against files: our client, {size / MIB:.0f} MiB egg, median of {self.options.runs} runs",
            ["blob store, database", "upload s", "/ files", "download s", "/ files", "server idle MiB",
             "+ upload MiB", "+ download MiB"], lines,
            ["wall time of our client's process (upload_egg, download_egg); the stores take turns within a run",
             "S3 alone: a Python process putting the egg to SeaweedFS (multipart, 5 MiB parts, 4 in flight, as the "
             "server does) and getting it back, with no hatcher server: the floor of any S3 row on this machine",
             "server RSS: idle = VmRSS before the transfer (median); + = peak (VmHWM, reset before, and VmRSS every "
             "50 ms) minus idle, the largest of the runs",
             "all on one machine: SeaweedFS, PostgreSQL, the server and the client share its cores and disk"]))
        self.tables.append(render(
            f"where the CPU goes in those transfers (CPU seconds, median of {self.options.runs} runs)",
            ["blob store, database", "up: server", "up: SeaweedFS", "up: client", "down: server", "down: SeaweedFS",
             "down: client"], cpu_lines,
            ["utime + stime of each process (/proc/PID/stat); the client's from wait4"]))

    def direct_s3(self, values: dict[str, list], operation: str, path: str, key: str) -> Child:
        """Put ``path`` to (``get``: fetch ``key`` into ``path`` from) the bucket in a process of its own.

        The figures go to ``values`` as :meth:`transfer` records them, without the server's.
        """
        assert self.s3 is not None and self.s3.process is not None
        groups: dict[str, Callable[[], Sequence[Optional[int]]]] = {
            "seaweedfs": lambda: [self.s3.process.pid if self.s3 and self.s3.process else None]}
        env = {**self.server_env(), "BENCH_S3_BUCKET": BUCKET}
        name = "upload" if operation == "put" else "download"
        before = CpuSnapshot(groups)
        child = run_child([sys.executable, "-c", DIRECT_S3, operation, path, key], env=env, cwd=self.directory)
        cpu = CpuSnapshot(groups).since(before)
        values[name].append(child.wall)
        values[f"{name}_operation"].append(child.json()["seconds"])
        values[f"{name}_cpu_seaweedfs"].append(cpu["seaweedfs"])
        values[f"{name}_cpu_client"].append(child.cpu)
        if operation == "put" and key != "direct/0":
            import obstore

            obstore.delete(self.s3.store(), key)  # one object kept, the source of the downloads
        return child

    def worker_upload(self, url: str, repository: str, egg: str) -> None:
        """Upload ``egg`` with our client (not measured): the source of the downloads."""
        self.clients.ours(self.worker_args(url, "upload", repository, path=egg))

    def transfer(self, values: dict[str, list], operation: str, server: Replica, args: dict) -> Child:
        """Run our client's ``operation`` against ``server``; record its figures in ``values``.

        The wall time and CPU of the client process, the time of the operation inside it, the
        server's RSS (see :class:`RssSampler`), and the CPU seconds of the server and of SeaweedFS.
        """
        assert self.s3 is not None and self.s3.process is not None and server.process is not None
        groups: dict[str, Callable[[], Sequence[Optional[int]]]] = {
            "server": lambda: [server.process.pid if server.process else None],
            "seaweedfs": lambda: [self.s3.process.pid if self.s3 and self.s3.process else None]}
        settle()
        with RssSampler(server.process.pid) as rss:
            before = CpuSnapshot(groups)
            child = self.clients.ours(args)
            cpu = CpuSnapshot(groups).since(before)
        values[operation].append(child.wall)
        values[f"{operation}_operation"].append(child.json()["seconds"])
        values[f"{operation}_above_idle"].append(rss.above_idle)
        values["idle_rss"].append(rss.idle)
        values[f"{operation}_cpu_server"].append(cpu["server"])
        values[f"{operation}_cpu_seaweedfs"].append(cpu["seaweedfs"])
        values[f"{operation}_cpu_client"].append(child.cpu)
        return child

    def bench_batch(self) -> None:
        """``eggs batch-upload --jobs N`` through nginx to 1, 2, 3 replicas on PostgreSQL + S3, taking turns."""
        assert self.postgres is not None and self.s3 is not None
        counts = self.options.replicas
        count, jobs = self.options.batch, self.options.scale_jobs
        self.log(f"scale: batch upload of {count} eggs, --jobs {jobs}, to {counts} replicas, "
                 f"{self.options.runs} runs ...")
        database = "batch"
        replicas = ReplicaSet(max(counts), os.path.join(self.directory, "replicas"),
                              database_url=self.postgres.create_database(database), s3=self.s3, prefix="batch",
                              admin=ADMIN, env={"NO_PROXY": self.env["NO_PROXY"], "no_proxy": self.env["NO_PROXY"]},
                              extra_args=["--log-level", "warning"])
        stop_replicas = self._stopping(replicas.stop)
        replicas.start()
        balancers = {}
        for n in counts:
            balancer = Nginx(replicas.upstreams[:n], os.path.join(self.directory, f"nginx-{n}"))
            self._cleanups.append(balancer.stop)
            balancer.start()
            balancers[n] = balancer
        stats = PostgresStats(self.postgres.port, database)
        postmaster = self.postgres.postmaster_pid()
        groups: dict[str, Callable[[], Sequence[Optional[int]]]] = {
            "replicas": lambda: [replica.process.pid for replica in replicas if replica.process is not None],
            "postgres": lambda: [postmaster],
            "seaweedfs": lambda: [self.s3.process.pid if self.s3 and self.s3.process else None],
            "nginx": lambda: [balancer.process.pid for balancer in balancers.values() if balancer.process],
        }
        eggs_dir = os.path.join(self.directory, "eggs")
        builds = iter(range(1, 1 << 30))
        # Warm-up, not measured, as many eggs through all the replicas: each checks the password once,
        # loads its upload code and opens the database connections of its pool that the jobs need.
        warm = build_small_eggs(eggs_dir, count, build=next(builds))
        self.batch_upload(balancers[max(counts)].url, self.fresh_repository(balancers[max(counts)].url, "warm"),
                          warm, jobs)
        shutil.rmtree(eggs_dir)
        per_count: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
        # The repositories are made now, so that between two readings of the database's counters
        # there is nothing but a run: the reading after a run is the one before the next.
        plan = [n for run in range(self.options.runs) for n in order(counts, run)]
        repositories = [self.fresh_repository(balancers[n].url, f"batch-{n}") for n in plan]
        pg_before = stats.settled()
        for index, (n, repository) in enumerate(zip(plan, repositories)):
            url = balancers[n].url
            eggs = build_small_eggs(eggs_dir, count, build=next(builds))
            s3_before = self.s3.s3_requests()
            cpu_before = CpuSnapshot(groups)
            child = self.batch_upload(url, repository, eggs, jobs)
            cpu = CpuSnapshot(groups).since(cpu_before)
            s3_after = self.s3.s3_requests()
            shutil.rmtree(eggs_dir)
            pg_after = stats.settled()
            sample = self.batch_sample(child, count, cpu, pg_before, pg_after, s3_before, s3_after)
            pg_before = pg_after
            per_count[n].append(sample)
            self.log(f"  run {index // len(counts) + 1}, {n} replica(s): {child.wall:.2f} s, "
                     f"{sample['eggs_per_s']:.0f} eggs/s, {sample['commits_per_egg']:.2f} commits/egg, "
                     f"{cell(sample.get('s3_requests_per_egg'))} S3 requests/egg, "
                     f"machine {sample['busy_percent']:.0f} % busy")
        for balancer in balancers.values():
            balancer.stop()
        stop_replicas()
        figures: dict[str, Any] = {"eggs": count, "jobs": jobs, "durable": not self.options.pg_fast}
        for n, samples in per_count.items():
            keys = sorted({key for sample in samples for key in sample})
            figures[str(n)] = {key: median([sample.get(key) for sample in samples]) for key in keys
                               if key != "s3_requests"}
            figures[str(n)]["runs"] = samples
        self.figures["batch"] = figures
        self.tables.extend(self.batch_tables(figures, counts))

    def batch_upload(self, url: str, repository: str, eggs: list[str], jobs: int) -> Child:
        """``hatcher eggs batch-upload --jobs JOBS`` of ``eggs``; checks that all are indexed."""
        child = run_child([self.clients.hatcher, "--url", url, "--username", ADMIN[0], "--password", ADMIN[1],
                           "--no-progress", "eggs", "batch-upload", "--jobs", str(jobs), ORG, repository, PLATFORM,
                           *eggs], env=self.clients.env, cwd=self.directory)
        from hatcher.api import BroodClient

        index = BroodClient.from_url(url, auth=ADMIN, api_version=1).organization(ORG).repository(
            repository).platform(PLATFORM).egg_index(TAG)
        if len(index) != len(eggs):
            raise ChildFailed(f"batch upload through {url}: {len(index)} of {len(eggs)} eggs indexed")
        return child

    @staticmethod
    def batch_sample(child: Child, count: int, cpu: dict[str, float], pg_before: dict[str, float],
                     pg_after: dict[str, float], s3_before: Optional[dict], s3_after: Optional[dict]) -> dict[str, Any]:
        """The figures of one batch run: totals (seconds, counts) and per egg (``*_per_egg``, ``*_ms``)."""
        pg = {key: pg_after[key] - pg_before[key] for key in pg_before}
        cpus = os.cpu_count() or 1
        sample: dict[str, Any] = {
            "wall": child.wall, "eggs_per_s": count / child.wall,
            "commits_per_egg": pg["commits"] / count, "write_commits_per_egg": pg["write_xacts"] / count,
            "rollbacks_per_egg": pg["rollbacks"] / count, "wal_flushes_per_egg": pg["wal_syncs"] / count,
            "wal_kib_per_egg": pg["wal_bytes"] / 1024 / count,
            "pg_active_ms": pg["active_s"] * 1e3 / count, "wal_flush_ms": pg["wal_sync_s"] * 1e3 / count,
            "pg_active_s": pg["active_s"], "wal_flush_s": pg["wal_sync_s"],
            "cpu_replicas": cpu["replicas"], "cpu_postgres": cpu["postgres"], "cpu_seaweedfs": cpu["seaweedfs"],
            "cpu_nginx": cpu["nginx"], "cpu_client": child.cpu, "cpu_machine": cpu["machine_busy"],
            "cpu_iowait": cpu["machine_iowait"], "cpu_steal": cpu["machine_steal"],
            "busy_percent": 100 * cpu["machine_busy"] / (cpus * cpu["wall"]),
        }
        ours = sum(cpu[key] for key in ("replicas", "postgres", "seaweedfs", "nginx")) + child.cpu
        sample["cpu_other"] = max(0.0, cpu["machine_busy"] - ours)
        for part in ("replicas", "postgres", "seaweedfs", "nginx", "client", "other"):
            sample[f"{part}_ms"] = sample[f"cpu_{part}"] * 1e3 / count
        if s3_before is not None and s3_after is not None:
            delta = {kind: (s3_after[kind][0] - s3_before.get(kind, (0, 0))[0],
                            s3_after[kind][1] - s3_before.get(kind, (0, 0))[1]) for kind in s3_after}
            delta = {kind: value for kind, value in delta.items() if value[0]}
            requests = sum(value[0] for value in delta.values())
            sample["s3_requests"] = {kind: value[0] for kind, value in delta.items()}
            sample["s3_requests_per_egg"] = requests / count
            sample["s3_puts_per_egg"] = delta.get("PUT", (0, 0))[0] / count
            sample["s3_request_ms"] = sum(value[1] for value in delta.values()) * 1e3 / requests if requests else None
        return sample

    def batch_tables(self, figures: dict[str, Any], counts: Sequence[int]) -> list[str]:
        """The two tables of the batch runs: throughput, database and S3; CPU per egg."""
        count, jobs, runs = figures["eggs"], figures["jobs"], self.options.runs
        durability = "durable commits (fsync on)" if figures["durable"] else "fsync and synchronous_commit off"
        lines, cpu_lines = [], []
        for n in counts:
            f = figures[str(n)]
            per_run = [sample.get("s3_requests", {}) for sample in f["runs"]]
            kinds = sorted({kind for requests in per_run for kind in requests})
            by_kind = ", ".join(f"{kind} {median([requests.get(kind, 0) for requests in per_run]) / count:.2f}"
                                for kind in kinds) or "-"
            lines.append([str(n), cell(f["wall"]), cell(f["eggs_per_s"], "{:.0f}"), cell(f["commits_per_egg"]),
                          cell(f["write_commits_per_egg"]), cell(f["rollbacks_per_egg"]),
                          cell(f["wal_flushes_per_egg"]), cell(f["pg_active_ms"]), cell(f["wal_flush_ms"]),
                          by_kind, cell(f.get("s3_request_ms"))])
            cpu_lines.append([str(n), cell(f["eggs_per_s"], "{:.0f}"),
                              *(cell(f[f"{part}_ms"]) for part in ("replicas", "postgres", "seaweedfs", "nginx",
                                                                     "client", "other")),
                              cell(f["busy_percent"], "{:.0f}")])
        first = render(
            f"batch upload on replicas: `hatcher eggs batch-upload --jobs {jobs}`, {count} small eggs, through nginx, "
            f"PostgreSQL ({durability}) + S3, median of {runs} runs",
            ["replicas", "wall s", "eggs/s", "commits/egg", "write commits/egg", "rollbacks/egg", "WAL flushes/egg",
             "PG active ms/egg", "WAL flush ms/egg", "S3 requests/egg", "SeaweedFS ms/request"], lines,
            ["wall: the CLI process (start-up, uploads, visibility check, re-index); eggs/s = eggs / wall",
             "commits: pg_stat_database.xact_commit, every transaction, empty ones too (SQLAlchemy's pre-ping runs "
             "one per connection checkout); write commits: transaction IDs assigned (transactions that wrote); "
             "rollbacks: read-only transactions ended by the connection pool",
             "WAL flushes: pg_stat_wal.wal_sync (commits that flush together share one); WAL flush ms: time spent "
             "in them (track_wal_io_timing); PG active ms: time backends spent running statements "
             "(pg_stat_database.active_time), summed over connections",
             "S3 requests by type (PUT: an object or a part; POST: start or complete a multipart upload) and "
             "SeaweedFS's own time per request, from its Prometheus counters"])
        second = render(
            f"where the CPU goes in those runs: CPU ms per egg, median of {runs} runs, {os.cpu_count()} CPUs",
            ["replicas", "eggs/s", "servers", "PostgreSQL", "SeaweedFS", "nginx", "client", "other",
             "machine busy %"], cpu_lines,
            ["each process tree's utime + stime (/proc/PID/stat) with its reaped children (every PostgreSQL "
             "process, nginx's workers); client: the CLI, from wait4",
             "other: the machine's busy time (/proc/stat) minus those: this driver, and anything else running; "
             "machine busy %: busy time / (CPUs x wall)"])
        return [first, second]

    def bench_index(self) -> None:
        """The egg index of ``--index-eggs`` eggs on PostgreSQL: cold first GET, p50 of curl and of our client."""
        assert self.postgres is not None
        count, requests = self.options.index_eggs, self.options.index_requests
        self.log(f"scale: index of {count} eggs on PostgreSQL, {requests} GETs per run ...")
        url = self.postgres.create_database("index")
        fill_dir = os.path.join(self.directory, "index-fill")
        subprocess.run([sys.executable, "-m", "hatcher.server.bench_data", "--data-dir", fill_dir, "--database-url",
                        url, "--organization", ORG, "--repository", INDEX_REPO, "--platform", PLATFORM,
                        "--python-tag", TAG, "--count", str(count)], check=True, stdout=subprocess.DEVNULL,
                       env=self.env)
        cold, curl_p50, ours_p50 = [], [], []
        for run in range(self.options.runs):
            server = self.server("index", "--database-url", url, "--blob-store", f"s3://{BUCKET}/index")
            try:
                base = f"{server.url}/api/v1/json/indices/{ORG}/{INDEX_REPO}/{PLATFORM}"
                get = ["-o", "/dev/null", "--compressed", "-u", ":".join(ADMIN)]
                self.clients.run_curl([*get, f"{base}/cp27/eggs"])  # password check and route: warm
                cold.append(float(self.clients.run_curl([*get, f"{base}/{TAG}/eggs"]).stdout.strip()))
                times = [float(self.clients.run_curl([*get, f"{base}/{TAG}/eggs"]).stdout.strip())
                         for _ in range(requests)]
                curl_p50.append(statistics.median(times))
                result = self.clients.ours(self.worker_args(server.url, "index", INDEX_REPO, requests=requests)).json()
                if result["entries"] != count:
                    raise ChildFailed(f"our client: {result['entries']} index entries, expected {count}")
                ours_p50.append(statistics.median(result["times"]))
            finally:
                server.stop()
            self.log(f"  run {run + 1}: cold {cold[-1] * 1e3:.0f} ms, curl p50 {curl_p50[-1] * 1e3:.1f} ms, "
                     f"ours p50 {ours_p50[-1] * 1e3:.1f} ms")
        figures = {"eggs": count, "requests": requests, "curl_ms": median(curl_p50) * 1e3,
                   "ours_ms": median(ours_p50) * 1e3, "cold_ms": median(cold) * 1e3,
                   "runs": {"curl": curl_p50, "ours": ours_p50, "cold": cold}}
        self.figures["index"] = figures
        self.tables.append(render(
            f"egg index on PostgreSQL: {count} eggs, median of {self.options.runs} runs",
            ["server", "curl p50 ms", "ours p50 ms", "first GET ms"],
            [["PostgreSQL + S3", cell(figures["curl_ms"], "{:.1f}"), cell(figures["ours_ms"], "{:.1f}"),
              cell(figures["cold_ms"], "{:.0f}")]],
            [f"p50 of {requests} GETs: curl, one process per GET, --compressed; ours: egg_index in one process, "
             "keep-alive",
             "first GET: the first of the index after the server started (built from the database and cached; "
             "the password was checked by a GET before)"]))


def targets(figures: dict[str, Any]) -> list[tuple[str, Optional[float], Callable[[float], bool], str]]:
    """``(name, value, check, format)`` of issue 8's targets, from :attr:`ScaleBench.figures`."""
    s3 = figures.get("s3", {}).get("s3", {})
    index = figures.get("index", {})
    return [
        ("S3 upload wall <= 1.5 x files (both SQLite)", s3.get("upload_ratio"), lambda v: v <= 1.5, "{:.2f} x files"),
        ("S3 download wall <= 1.5 x files (both SQLite)", s3.get("download_ratio"), lambda v: v <= 1.5,
         "{:.2f} x files"),
        ("S3 upload: server RSS <= 64 MiB above idle",
         s3["upload_above_idle"] / MIB if "upload_above_idle" in s3 else None, lambda v: v <= 64, "{:.1f} MiB"),
        ("S3 download: server RSS <= 64 MiB above idle",
         s3["download_above_idle"] / MIB if "download_above_idle" in s3 else None, lambda v: v <= 64, "{:.1f} MiB"),
        ("PostgreSQL: index p50 <= 150 ms (curl)", index.get("curl_ms"), lambda v: v <= 150, "{:.1f} ms"),
    ]
