"""One measured client operation, run in a process of its own by ``benchmarks/run.py``.

It runs under *our* interpreter and under the reference client's (``python -I``, so only the
reference ``hatcher`` is importable there): it uses nothing but the public Python API that both
share (``hatcher.api.BroodClient`` and the platform methods). ``hatcher.batch`` exists only in ours.

Usage: ``python _worker.py '<JSON arguments>'``; prints a JSON object on stdout:
``{"seconds": <time of the operation itself>, ...}``.
"""

import json
import sys
import time


def platform_of(args):
    from hatcher.api import BroodClient

    client = BroodClient.from_url(args["url"], auth=tuple(args["auth"]), api_version=1)
    return client.organization(args["organization"]).repository(args["repository"]).platform(args["platform"])


def upload(args):
    platform_of(args).upload_egg(args["path"], overwrite=False, enabled=True)
    return {}


def download(args):
    platform_of(args).download_egg(args["python_tag"], args["name"], args["version"], args["destination"])
    return {}


def upload_each(args):
    platform = platform_of(args)
    for path in args["paths"]:
        platform.upload_egg(path, overwrite=False, enabled=True)
    return {}


def batch(args):
    from hatcher.batch import batch_upload_eggs

    result = batch_upload_eggs(platform_of(args), args["paths"], jobs=args["jobs"])
    if not result.ok:
        raise SystemExit(f"batch upload failed: {result.failures}")
    return {}


def index(args):
    platform = platform_of(args)
    times, entries = [], 0
    for _ in range(args["requests"]):
        start = time.perf_counter()
        entries = len(platform.egg_index(args["python_tag"]))
        times.append(time.perf_counter() - start)
    return {"times": times, "entries": entries}


OPERATIONS = {"upload": upload, "download": download, "upload_each": upload_each, "batch": batch, "index": index}


def main():
    args = json.loads(sys.argv[1])
    import hatcher.api  # noqa: F401 - start-up is measured elsewhere: time the operation alone

    hatcher.api.BroodClient  # noqa: B018 - resolve a lazy attribute (ours) before the clock starts
    start = time.perf_counter()
    result = OPERATIONS[args["operation"]](args)
    result["seconds"] = time.perf_counter() - start
    print(json.dumps(result))


if __name__ == "__main__":
    main()
