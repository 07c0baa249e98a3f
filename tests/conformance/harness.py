"""Test-side half of the conformance suite: programs of reference-client steps and their expectations.

Every reference operation (one API call in the driver, one CLI invocation) is a *step*. Each step
gets a verdict against what the specs predict; a test collects all verdicts (soft assertions) and
fails at the end listing every step that did not behave as predicted, with request and response.
:data:`STATS` counts steps for the terminal summary ("conformance steps: N").
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shlex
import subprocess
from typing import Any, Callable, Iterable, Sequence

from reference import run_reference_cli, run_reference_script

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "password"


class Stats:
    """Session-wide counters of reference steps."""

    def __init__(self) -> None:
        self.total = 0
        self.passed = 0
        self.api = 0
        self.cli = 0
        self.failures: list[str] = []
        self.current_test = "?"

    def record(self, kind: str, step_id: str, ok: bool, problem: str = "") -> None:
        self.total += 1
        setattr(self, kind, getattr(self, kind) + 1)
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"{self.current_test} :: {step_id}: {problem.splitlines()[0] if problem else ''}")


STATS = Stats()
_unique = itertools.count(1)


def unique(prefix: str) -> str:
    """A name not used before in this session (organizations, repositories, tokens...)."""
    return f"{prefix}{os.getpid() % 1000}x{next(_unique)}"


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decode(value: Any) -> Any:
    """Undo the driver's encoding: ``{"__tuple__": [...]}`` becomes a tuple."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode(item) for item in value["__tuple__"])
        return {key: decode(item) for key, item in value.items()}
    return value


# --- expectations -------------------------------------------------------------------------------

class Check:
    """A named predicate over a step's value."""

    def __init__(self, description: str, predicate: Callable[[Any], bool]) -> None:
        self.description = description
        self.predicate = predicate

    def __call__(self, value: Any) -> bool:
        return bool(self.predicate(value))


def eq(expected: Any) -> Check:
    return Check(f"== {expected!r}", lambda value: value == expected)


def contains(*items: Any) -> Check:
    return Check(f"contains {items!r}", lambda value: all(item in value for item in items))


def lacks(*items: Any) -> Check:
    return Check(f"does not contain {items!r}", lambda value: all(item not in value for item in items))


def that(description: str, predicate: Callable[[Any], bool]) -> Check:
    return Check(description, predicate)


def all_of(*checks: Check) -> Check:
    return Check(" and ".join(check.description for check in checks), lambda value: all(c(value) for c in checks))


def _run_check(check: Check | Callable[[Any], Any], value: Any) -> str:
    """Return '' when the check passes, else a description of the problem."""
    try:
        ok = check(value)
    except AssertionError as error:
        return f"assertion failed: {error}"
    except Exception as error:  # noqa: BLE001 - a crashing check is a failed check
        return f"check raised {error!r}"
    if ok is False:
        return f"expected {getattr(check, 'description', check)}"
    return ""


class SoftFailures:
    """Collects problems; :meth:`raise_if_any` fails the test once with all of them."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def raise_if_any(self) -> None:
        if self.problems:
            raise AssertionError(f"{len(self.problems)} reference step(s) not as the specs predict:\n\n"
                                 + "\n\n".join(self.problems))


# --- API programs ---------------------------------------------------------------------------------

def basic(email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict:
    """Password auth: a ``(user, password)`` tuple passed as ``auth`` (HTTP Basic on every request)."""
    return {"kind": "basic", "username": email, "password": password}


def client_auth(credentials: Any) -> dict:
    """``BroodClientAuth(url, credentials)``: session tokens from an API token or a (user, password) pair."""
    return {"kind": "client_auth", "credentials": credentials}


def bearer(token: Any) -> dict:
    """A raw ``Authorization: Bearer <API token>`` header (older clients' token auth)."""
    return {"kind": "bearer", "token": token}


def ref(step_id: str, key: str | None = None) -> dict:
    """Refer to an earlier step's result inside the same program (e.g. a freshly created token)."""
    return {"$ref": step_id, **({"key": key} if key is not None else {})}


class Target:
    """A navigation path from the client (organization → repository → platform → attribute)."""

    def __init__(self, program: Program, path: tuple = ()) -> None:
        self.program = program
        self.path = path

    def _nav(self, *item: Any) -> Target:
        return Target(self.program, self.path + (list(item),))

    def organization(self, name: str) -> Target:
        return self._nav("organization", name)

    def repository(self, name: str) -> Target:
        return self._nav("repository", name)

    def platform(self, name: str) -> Target:
        return self._nav("platform", name)

    def user(self, email: str) -> Target:
        return self._nav("user", email)

    def attr(self, name: str) -> Target:
        return self._nav("attr", name)

    def get(self, *args: Any) -> Target:
        return self._nav("get", *args)

    def step(self, step_id: str, call: str | None, *args: Any, **options: Any) -> str:
        return self.program.step(step_id, call, *args, target=self, **options)


class Program:
    """A sequence of reference API calls run in ONE reference subprocess, each with an expectation.

    ``step(id, call, *args, kwargs..., check=..., error=..., exhaust=..., list_dir=..., files=...)``:

    * no ``error``: the call must succeed; ``check`` (a :class:`Check` or callable) tests its result;
    * ``error=404`` (an int or a tuple of ints): an ``HTTPError`` with that status is predicted;
      ``error="ChecksumMismatchError"``: that exception class; ``error=callable``: a predicate over the
      error record (dict with ``type``, ``status``, ``body``...);
    * ``exhaust=True``: the result is a ``(length, iterator)`` pair, consumed by the driver;
    * ``list_dir=path``: the directory listing (sha256 per file) is returned too, and ``files`` (a
      mapping ``{file name: sha256}``) must all be present in it with those digests.
    """

    def __init__(self, url: str, api_version: int = 0, auth: dict | None = None, label: str = "") -> None:
        self.url = url
        self.api_version = api_version
        self.auth = auth
        self.label = label or f"api v{api_version}"
        self.steps: list[dict] = []
        self.expectations: dict[str, dict] = {}

    @property
    def client(self) -> Target:
        return Target(self)

    def step(self, step_id: str, call: str | None, *args: Any, target: Target | None = None,
             check: Any = None, error: Any = None, exhaust: bool = False, list_dir: str | None = None,
             files: dict | None = None, read_result_file: bool = False, client: dict | None = None,
             note: str = "", **kwargs: Any) -> str:
        assert step_id not in self.expectations, f"duplicate step id {step_id}"
        self.steps.append({"id": step_id, "target": list(target.path) if target else [], "call": call,
                           "args": list(args), "kwargs": kwargs, "exhaust": exhaust, "list_dir": list_dir,
                           "read_result_file": read_result_file, "client": client})
        self.expectations[step_id] = {"check": check, "error": error, "files": files, "note": note}
        return step_id

    def run(self, failures: SoftFailures | None = None, timeout: float = 600) -> Results:
        payload = {"url": self.url, "api_version": self.api_version, "auth": self.auth, "steps": self.steps}
        completed = run_reference_script("api_driver.py", input=json.dumps(payload), timeout=timeout)
        if completed.returncode != 0:
            raise AssertionError(f"reference driver crashed (exit {completed.returncode}):\n{completed.stderr}")
        output = json.loads(completed.stdout)
        assert output["hatcher"] == "0.17.0", output
        results = Results(self, output["steps"])
        results.evaluate(failures)
        return results


def _describe_call(step: dict) -> str:
    path = "".join(f".{item[1]}" if item[0] == "attr" else f".{item[0]}({', '.join(map(repr, item[1:]))})"
                   for item in step["target"])
    args = [repr(arg) for arg in step["args"]] + [f"{key}={value!r}" for key, value in step["kwargs"].items()]
    return f"client{path}.{step['call']}({', '.join(args)})"


def _error_matches(expected: Any, error: dict) -> bool:
    if callable(expected):
        return bool(expected(error))
    if isinstance(expected, str):
        return error.get("type") == expected
    statuses = expected if isinstance(expected, (tuple, list, set, range)) else (expected,)
    return error.get("status") in statuses


def _short_error(error: dict) -> str:
    if "status" in error:
        return (f"HTTP {error['status']} ({error.get('method')} {error.get('request_url')}) "
                f"content-type={error.get('content_type')!r} body={error.get('body', '')[:300]!r}")
    return f"{error.get('type')}: {error.get('message', '')[:300]}" + (
        f"\n{error['traceback']}" if error.get("traceback") else "")


class Results:
    """The records of one program run, by step id; values are decoded (tuples restored)."""

    def __init__(self, program: Program, records: list[dict]) -> None:
        self.program = program
        self.records = {record["id"]: record for record in records}
        self.verdicts: dict[str, str] = {}

    def __getitem__(self, step_id: str) -> Any:
        return decode(self.records[step_id].get("result"))

    def record(self, step_id: str) -> dict:
        return self.records[step_id]

    def ok(self, step_id: str) -> bool:
        return self.verdicts.get(step_id) == ""

    def evaluate(self, failures: SoftFailures | None) -> None:
        for step in self.program.steps:
            step_id = step["id"]
            expectation = self.program.expectations[step_id]
            record = self.records[step_id]
            problem = ""
            expected_error = expectation["error"]
            if expected_error is not None:
                if record["ok"]:
                    problem = f"predicted an error ({expected_error!r}), got success: {record.get('result')!r}"
                elif not _error_matches(expected_error, record["error"]):
                    problem = f"predicted error {expected_error!r}, got {_short_error(record['error'])}"
            elif not record["ok"]:
                problem = f"predicted success, got {_short_error(record['error'])}"
            else:
                if expectation["check"] is not None:
                    problem = _run_check(expectation["check"], decode(record.get("result")))
                    if problem:
                        problem += f"\n    actual: {json.dumps(record.get('result'))[:1500]}"
                if not problem and expectation["files"]:
                    listing = record.get("dir", {})
                    for name, digest in expectation["files"].items():
                        if name not in listing:
                            problem = f"file {name!r} missing; directory holds {sorted(listing)}"
                        elif listing[name]["sha256"] != digest:
                            problem = f"file {name!r} has sha256 {listing[name]['sha256']}, expected {digest}"
            self.verdicts[step_id] = problem
            STATS.record("api", step_id, not problem, problem)
            if problem and failures is not None:
                note = f"\n    note: {expectation['note']}" if expectation["note"] else ""
                failures.add(f"[{self.program.label}] step {step_id!r}: {_describe_call(step)}\n    {problem}{note}")


# --- CLI ----------------------------------------------------------------------------------------------

class Cli:
    """Runs the reference ``hatcher`` command; every invocation is one step with a predicted outcome."""

    def __init__(self, url: str, credentials: Sequence[str], api_version: int | None = None,
                 failures: SoftFailures | None = None, label: str = "") -> None:
        self.url = url
        self.credentials = list(credentials)
        self.api_version = api_version
        self.failures = failures if failures is not None else SoftFailures()
        self.label = label or f"cli api v{api_version if api_version is not None else 'default'}"

    def command(self, args: Iterable[Any]) -> list[str]:
        version = ["--api-version", str(self.api_version)] if self.api_version is not None else []
        return ["-u", self.url, *self.credentials, *version, *[str(arg) for arg in args]]

    def __call__(self, step_id: str, *args: Any, rc: int = 0, check: Any = None, input: str | None = None,
                 cwd: str | None = None, env: dict | None = None, note: str = "") -> subprocess.CompletedProcess:
        command = self.command(args)
        completed = run_reference_cli(command, input=input, cwd=cwd, env=env)
        problem = ""
        if completed.returncode != rc:
            problem = f"predicted exit status {rc}, got {completed.returncode}"
        elif check is not None:
            problem = _run_check(check, completed)
        STATS.record("cli", step_id, not problem, problem)
        if problem:
            shown = " ".join(shlex.quote(part) for part in command)
            note = f"\n    note: {note}" if note else ""
            self.failures.add(f"[{self.label}] step {step_id!r}: hatcher {shown}\n    {problem}\n"
                              f"    stdout: {completed.stdout[-1500:]!r}\n    stderr: {completed.stderr[-2500:]!r}"
                              f"{note}")
        return completed


def table_rows(text: str) -> list[list[str]]:
    """Parse a tabulate "simple" table: the rows below the dashes line, split on 2+ spaces."""
    import re

    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() and set(line.replace(" ", "")) == {"-"}:
            spans = [match.span() for match in re.finditer(r"-+", line)]
            rows = []
            for row in lines[index + 1:]:
                if not row.strip():
                    continue
                rows.append([row[start:(spans[i + 1][0] if i + 1 < len(spans) else len(row))].strip()
                             for i, (start, _) in enumerate(spans)])
            return rows
    return []


def table_header(text: str) -> list[str]:
    """The header cells of a tabulate "simple" table (the line before the dashes)."""
    import re

    lines = text.splitlines()
    for index, line in enumerate(lines):
        if index and line.strip() and set(line.replace(" ", "")) == {"-"}:
            return re.split(r"\s{2,}", lines[index - 1].strip())
    return []
