"""Concurrent uploads of one egg identity: exactly one wins, the other gets 409."""

from __future__ import annotations

import threading
from typing import Any, Callable

from artefact_kit import blob_stored, data_files, make_repo, sha256_of

from hatcher.artefacts import builders
from hatcher.errors import BroodHTTPError
from hatcher.server.runner import EmbeddedBrood


def test_concurrent_uploads_of_one_identity(brood: EmbeddedBrood, unique: Callable[[str], str],
                                            tmp_path: Any) -> None:
    repo = make_repo(brood, unique, 1)
    for round_number in range(5):
        paths = []
        for side in ("a", "b"):
            directory = tmp_path / f"{round_number}{side}"
            directory.mkdir()
            paths.append(builders.build_egg(str(directory), name="race", version=f"1.{round_number}",
                                            summary=f"side {side}", payload_size=200_000))
        barrier = threading.Barrier(2)
        outcomes: dict[str, Any] = {}

        def upload(path: str, barrier: threading.Barrier = barrier, outcomes: dict[str, Any] = outcomes) -> None:
            platform = brood.client(1).organization(repo.org).repository(repo.name).platform("rh5-x86_64")
            barrier.wait()
            try:
                platform.upload_egg(path)
                outcomes[path] = 201
            except BroodHTTPError as exc:
                outcomes[path] = exc.status_code

        threads = [threading.Thread(target=upload, args=(path,)) for path in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(outcomes.values()) == [201, 409], outcomes
        winner = next(path for path, status in outcomes.items() if status == 201)
        loser = next(path for path, status in outcomes.items() if status == 409)
        metadata = repo.platform().egg_metadata("cp27", "race", f"1.{round_number}-1")
        assert metadata["sha256"] == sha256_of(winner)
        assert blob_stored(brood, sha256_of(winner)) and not blob_stored(brood, sha256_of(loser))
    if hasattr(brood, "settings"):  # a file store: no received file left (S3 has no temporary files)
        assert not [path for path in data_files(brood) if path.startswith(brood.settings.tmp_dir)]
