"""Make the migration test fixtures: a SQLite data directory and a PostgreSQL dump written by an older release.

Run it with the *older* release's code first on the path, for example the last commit before
schema migrations existed::

    git worktree add /tmp/hatcher-old cf000f9
    PYTHONPATH=/tmp/hatcher-old python tools/make_migration_fixture.py tests/server/fixtures \\
        --postgresql-url postgresql+psycopg://hatcher@127.0.0.1:PORT/postgres \\
        --pg-dump /usr/lib/postgresql/15/bin/pg_dump

It fills a server with organizations, repositories, teams, users with passwords, an API
token and artefacts of every kind (one blob shared by two repositories, one egg disabled),
then writes ``sqlite-<revision>.tar.gz`` (the data directory) and
``postgresql-<revision>.tar.gz`` (``dump.sql`` and the blob directory), and
``manifest-<revision>.json``: what the tests expect to find after upgrading.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from typing import Any, Optional

ADMIN = ("admin@example.com", "admin-password")
USER = ("jane@acme.org", "jane-password")


def _sha256(path: str) -> str:
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def _fill(brood: Any, work: str) -> dict[str, Any]:
    from hatcher.artefacts import builders
    from hatcher.server.accounts import set_password

    client = brood.client(api_version=1)
    acme = client.create_organization("acme", "ACME Inc.")
    dev, prod = acme.create_repository("dev", "Development"), acme.create_repository("prod", "Production")
    team = acme.create_team("uploaders", "upload_repository")
    team.add_repository(dev)
    acme.create_user(USER[0], teams=[team])
    with brood.app.state.sessionmaker() as db:
        set_password(db, USER[0], USER[1])
    egg = builders.build_egg(work, name="numpy", version="1.8.0", build=1, platform="rh7-x86_64", python_tag="cp38")
    hidden = builders.build_egg(work, name="scipy", version="0.14.0", build=2, platform="rh7-x86_64",
                                python_tag="cp38")
    runtime = builders.build_runtime_v1(work, version="3.8.10+2")
    app = builders.build_app(work)
    bundle = builders.build_bundle(work, name="data_science", version="2.1.0", build=3)
    dev.platform("rh7-x86_64").upload_egg(egg)
    prod.platform("rh7-x86_64").upload_egg(egg)  # one blob, two artefacts
    dev.platform("rh7-x86_64").upload_egg(hidden, enabled=False)
    dev.upload_runtime(runtime)
    dev.upload_app(app)
    dev.upload_bundle(bundle)
    token = client.create_api_token("ci")["token"]
    return {
        "admin": list(ADMIN), "user": list(USER), "api_token": token,
        "organizations": ["acme"], "repositories": ["dev", "prod"],
        "eggs": {"dev": ["numpy-1.8.0-1.egg", "scipy-0.14.0-2.egg"], "prod": ["numpy-1.8.0-1.egg"]},
        "disabled": ["scipy-0.14.0-2.egg"],
        "sha256": {os.path.basename(path): _sha256(path) for path in (egg, hidden, runtime, app, bundle)},
    }


def _tar(target: str, members: dict[str, str]) -> None:
    with tarfile.open(target, "w:gz") as archive:
        for name, path in members.items():
            archive.add(path, arcname=name)


def main(argv: Optional[list[str]] = None) -> None:
    """Write the fixtures of the running code's schema revision into the output directory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("--revision", default="0001", help="the schema revision of the code on the path")
    parser.add_argument("--postgresql-url", help="an empty PostgreSQL database to fill and dump")
    parser.add_argument("--pg-dump", default="pg_dump")
    args = parser.parse_args(argv)
    from hatcher.server.runner import EmbeddedBrood

    print(f"hatcher code from {os.path.dirname(sys.modules['hatcher.server.runner'].__file__)}")
    os.makedirs(args.output, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "sqlite")
        with EmbeddedBrood(data, admin=ADMIN) as brood:
            manifest = _fill(brood, work)
        _tar(os.path.join(args.output, f"sqlite-{args.revision}.tar.gz"),
             {"brood.sqlite3": os.path.join(data, "brood.sqlite3"), "blobs": os.path.join(data, "blobs")})
        if args.postgresql_url:
            data, files = os.path.join(work, "postgresql"), os.path.join(work, "pg-files")
            os.makedirs(files)
            with EmbeddedBrood(data, database_url=args.postgresql_url, admin=ADMIN) as brood:
                manifest["postgresql_api_token"] = _fill(brood, files)["api_token"]
            from sqlalchemy.engine import make_url

            url = make_url(args.postgresql_url)
            dump = os.path.join(work, "dump.sql")
            subprocess.run([args.pg_dump, "--no-owner", "--no-privileges", "-h", url.host, "-p", str(url.port),
                            "-U", url.username, "-f", dump, url.database], check=True)
            _tar(os.path.join(args.output, f"postgresql-{args.revision}.tar.gz"),
                 {"dump.sql": dump, "blobs": os.path.join(data, "blobs")})
    with open(os.path.join(args.output, f"manifest-{args.revision}.json"), "w", encoding="utf-8") as stream:
        json.dump(manifest, stream, indent=2, sort_keys=True)
        stream.write("\n")
    print(f"wrote the fixtures of revision {args.revision} to {args.output}")


if __name__ == "__main__":
    main()
