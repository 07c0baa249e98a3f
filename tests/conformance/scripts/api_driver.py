"""Drive the reference hatcher Python API through a program of steps; runs INSIDE the reference venv.

Input (JSON on stdin)::

    {"url": "http://127.0.0.1:8000", "api_version": 0,
     "auth": null | {"kind": "basic", "username": ..., "password": ...}
                  | {"kind": "client_auth", "credentials": "<api token>" | [user, password]}
                  | {"kind": "bearer", "token": "<api token>"},
     "steps": [{"id": "s1", "target": [["organization", "acme"], ["attr", "bundles"]],
                "call": "list_repositories", "args": [], "kwargs": {},
                "exhaust": false, "list_dir": null, "read_result_file": false,
                "client": null | {"api_version": 1, "auth": {...}}}]}

Any value ``{"$ref": "<step id>", "key": "<key>"}`` in args, kwargs or auth is replaced by that
earlier step's result (or its ``key`` item). Tuples in results are written as ``{"__tuple__": [...]}``;
objects that are not JSON values as ``{"__repr__": repr(obj), "__type__": class name}``.

Output (JSON on stdout): ``{"hatcher": <version>, "steps": [{"id", "ok", "result" | "error", ...}]}``.
"""

import hashlib
import json
import os
import sys
import traceback

import requests
from requests.auth import AuthBase

import hatcher
from hatcher.api import BroodClient, BroodClientAuth


class _Bearer(AuthBase):
    """A raw ``Authorization: Bearer <API token>`` on every request (what clients <= 0.13 sent)."""

    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = "Bearer " + self.token
        return request


def encode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    return {"__repr__": repr(value), "__type__": type(value).__name__}


def resolve(value, results):
    if isinstance(value, dict):
        if "$ref" in value:
            result = results[value["$ref"]]
            return result[value["key"]] if "key" in value else result
        return {key: resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, results) for item in value]
    return value


def make_auth(url, auth):
    if auth is None:
        return None
    kind = auth["kind"]
    if kind == "basic":
        return (auth["username"], auth["password"])
    if kind == "client_auth":
        credentials = auth["credentials"]
        return BroodClientAuth(url, tuple(credentials) if isinstance(credentials, list) else credentials)
    if kind == "bearer":
        return _Bearer(auth["token"])
    raise ValueError("unknown auth kind " + kind)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_error(error):
    info = {"type": type(error).__name__, "module": type(error).__module__, "message": str(error)[:2000]}
    response = getattr(error, "response", None)
    if isinstance(error, requests.exceptions.HTTPError) and response is not None:
        info["status"] = response.status_code
        info["content_type"] = response.headers.get("Content-Type")
        info["body"] = response.text[:2000]
        info["method"] = response.request.method if response.request is not None else None
        info["request_url"] = response.request.url if response.request is not None else None
    elif not isinstance(error, (requests.exceptions.RequestException, OSError)):
        info["traceback"] = traceback.format_exc()[-3000:]
    return info


def list_dir(path):
    files = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            files[name] = {"sha256": sha256_of(full), "size": os.path.getsize(full),
                           "mode": oct(os.stat(full).st_mode & 0o777)}
    return files


def main():
    program = json.load(sys.stdin)
    url = program["url"]
    clients = {}

    def client_for(spec, results):
        spec = resolve(spec, results)
        key = json.dumps(spec, sort_keys=True)
        if key not in clients:
            clients[key] = BroodClient.from_url(url, auth=make_auth(url, spec.get("auth")),
                                                api_version=spec.get("api_version", 0))
        return clients[key]

    default_spec = {"api_version": program.get("api_version", 0), "auth": program.get("auth")}
    results, records = {}, []
    for step in program["steps"]:
        record = {"id": step["id"]}
        try:
            obj = client_for(step.get("client") or default_spec, results)
            for item in step.get("target", []):
                name, args = item[0], resolve(item[1:], results)
                obj = getattr(obj, args[0]) if name == "attr" else getattr(obj, name)(*args)
            call = step.get("call")
            if call is None:
                value = obj
            elif call == "__iter__":
                value = list(obj)
            else:
                value = getattr(obj, call)(*resolve(step.get("args", []), results),
                                           **resolve(step.get("kwargs", {}), results))
            if step.get("exhaust"):
                length, iterator = value
                chunks = list(iterator)
                value = {"length": length, "chunks": len(chunks), "total": sum(chunks)}
            results[step["id"]] = value
            record["ok"] = True
            record["result"] = encode(value)
            if step.get("read_result_file"):
                with open(value, encoding="utf-8") as stream:
                    record["file_text"] = stream.read()
        except BaseException as error:  # noqa: B036 - every failure is a step result
            if isinstance(error, KeyboardInterrupt):
                raise
            record["ok"] = False
            record["error"] = describe_error(error)
        if step.get("list_dir"):
            try:
                record["dir"] = list_dir(step["list_dir"])
            except OSError as error:
                record["dir_error"] = repr(error)
        records.append(record)
    json.dump({"hatcher": hatcher.__version__, "hatcher_file": hatcher.__file__, "steps": records}, sys.stdout)


if __name__ == "__main__":
    main()
