"""Benchmark data: fill a repository platform with many egg rows straight through SQLAlchemy.

Uploading 20,000 eggs takes far too long to set up an index benchmark, so this writes the
rows and their blob rows (but no file in the blob store: the eggs can be listed, not downloaded) directly::

    python -m hatcher.server.bench_data --data-dir DIR --organization O --repository R \\
        --platform rh7-x86_64 --count 20000

Run it before the server starts on ``DIR`` (or call :func:`populate_egg_index` with the
application of a running in-process server: the repository's generation is bumped, so
cached indices are not reused).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from typing import Any, Optional, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from hatcher.server.artefact_service import bump_generation
from hatcher.server.db import Artefact, Blob, Organization, Repository, make_engine, make_sessionmaker
from hatcher.server.ingest import EGG, canonical_platform
from hatcher.server.schema import prepare_schema

#: Eggs per project name: ``count`` eggs are spread over ``count / VERSIONS_PER_NAME`` names.
VERSIONS_PER_NAME = 5


def _sessionmaker(app_or_sessionmaker: Any) -> sessionmaker[Session]:
    state = getattr(app_or_sessionmaker, "state", None)
    if state is not None:
        return state.sessionmaker
    return app_or_sessionmaker


def _repository(db: Session, organization: str, repository: str) -> Repository:
    org = db.scalar(select(Organization).where(Organization.name == organization))
    if org is None:
        org = Organization(name=organization, description="Benchmark data")
        db.add(org)
        db.flush()
    repo = db.scalar(select(Repository).where(Repository.organization_id == org.id, Repository.name == repository))
    if repo is None:
        repo = Repository(organization_id=org.id, name=repository, description="Benchmark data")
        db.add(repo)
        db.flush()
    return repo


def egg_rows(repository_id: int, platform: str, count: int, python_tag: str = "cp38",
             start: int = 0) -> list[dict[str, Any]]:
    """``count`` artefact rows (as dicts) of distinct, plausible eggs."""
    python = f"{python_tag[2]}.{python_tag[3:]}" if python_tag.startswith("cp") and len(python_tag) > 3 else None
    now = time.time()
    rows = []
    for i in range(start, start + count):
        name = f"bench_pkg{i // VERSIONS_PER_NAME:05d}"
        upstream = f"1.{i % VERSIONS_PER_NAME}.0"
        full_version = f"{upstream}-1"
        filename = f"{name}-{full_version}.egg"
        sha256 = hashlib.sha256(f"{platform}/{python_tag}/{filename}".encode()).hexdigest()
        document = {
            "name": name, "egg_basename": name, "version": upstream, "build": 1, "full_version": full_version,
            "python": python, "python_tag": python_tag, "abi_tag": python_tag, "platform_tag": "linux_x86_64",
            "platform_abi": "gnu", "platform": platform, "packages": [f"numpy {i % 7}.0-1"],
            "metadata_version": "1.4", "summary": "Benchmark package", "filename": filename,
        }
        rows.append({
            "repository_id": repository_id, "kind": EGG, "platform": platform, "key": python_tag, "name": name,
            "version": full_version, "filename": filename, "sha256": sha256, "md5": sha256[:32],
            "size": 1024 + i, "enabled": True, "mtime": now, "document": document,
        })
    return rows


def populate_egg_index(app_or_sessionmaker: Any, organization: str, repository: str, platform: str,
                       count: int, python_tag: str = "cp38") -> int:
    """Add ``count`` enabled eggs to ``organization/repository`` on ``platform``; return the repository id.

    The organization and repository are created when missing. Eggs already there from an
    earlier call are kept; new ones are numbered after them.

    Parameters
    ----------
    app_or_sessionmaker : FastAPI or sessionmaker
        A Brood application (from :func:`hatcher.server.app.create_app`) or its session factory.
    """
    make_session = _sessionmaker(app_or_sessionmaker)
    canonical = canonical_platform(platform)
    with make_session() as db:
        repo = _repository(db, organization, repository)
        existing = len(db.scalars(select(Artefact.id).where(
            Artefact.repository_id == repo.id, Artefact.kind == EGG, Artefact.platform == canonical,
            Artefact.key == python_tag)).all())
        rows = egg_rows(repo.id, canonical, count, python_tag, start=existing)
        # The same (fake) content in another repository shares its blob row, as real uploads do.
        digests = [row["sha256"] for row in rows]
        known = {digest for offset in range(0, len(digests), 5000)
                 for digest in db.scalars(select(Blob.sha256).where(Blob.sha256.in_(digests[offset:offset + 5000])))}
        blobs = [{"sha256": row["sha256"], "key": f"bench/{row['sha256']}", "md5": row["md5"], "size": row["size"]}
                 for row in rows if row["sha256"] not in known]
        for offset in range(0, len(rows), 5000):
            if blobs[offset:offset + 5000]:
                db.execute(insert(Blob), blobs[offset:offset + 5000])
            db.execute(insert(Artefact), rows[offset:offset + 5000])
        bump_generation(db, repo.id)
        db.commit()
        return repo.id


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m hatcher.server.bench_data``: fill a data directory (before the server starts)."""
    from hatcher.server.settings import ServerSettings

    parser = argparse.ArgumentParser(prog="python -m hatcher.server.bench_data", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--organization", required=True)
    parser.add_argument("--repository", required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--python-tag", default="cp38")
    args = parser.parse_args(argv)
    settings = ServerSettings(args.data_dir, database_url=args.database_url)
    settings.ensure_directories()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        prepare_schema(engine)
        populate_egg_index(make_sessionmaker(engine), args.organization, args.repository, args.platform,
                           args.count, args.python_tag)
    finally:
        engine.dispose()
    print(f"Added {args.count} eggs to {args.organization}/{args.repository} on {args.platform} "
          f"({args.python_tag}) in {settings.data_dir}")


if __name__ == "__main__":  # pragma: no cover
    main()
