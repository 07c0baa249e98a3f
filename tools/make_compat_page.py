"""Regenerate docs/compatibility.rst from the checklist of the Python API specification.

Usage: python tools/make_compat_page.py ../shared/spec/hatcher-python-api.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

NOTES = {
    "`BroodBearerTokenAuth(token)`": "Kept (removed upstream in 0.15.0); exported from ``hatcher.api``.",
    "`BroodClientAuth(brood_url, credentials, verify_ssl=None)`":
        "Thread safe; also renews the token and re-sends once on a 401. Fix of Q3: the token "
        "request goes to the same scheme and host as every other request.",
    "`BroodClient._api_version` (deprecated)": "Warns with ``DeprecationWarning``, as upstream.",
    "`Organization.team(team_name)`": "Restored (removed upstream in 0.11.0).",
    "`Organization.create_team(name, group_name)`": "Restored; uses the client's API root.",
    "`Organization.list_teams()`": "Restored; uses the client's API root.",
    "`Repository.upload_app(filename, overwrite=False)`":
        "Fix of Q7: also takes ``verify`` (and ``progress``).",
    "`Repository.reindex(eggs_to_enable)`": "Kept on ``Repository`` with the repository-wide path.",
    "`SinglePlatformRepository.download_egg(python_tag, name, version, destination, "
    "expected_sha256=None, filename=None)`":
        "Streams to a temporary file, verifies sha256, renames atomically; fix of Q4 "
        "(``MissingFilenameError``) and Q6 (files get the umask's permissions). Optional ``progress``.",
    "`SinglePlatformRepository.upload_egg(filename, overwrite=False, enabled=True, verify=False)`":
        "Streams from disk with a fresh multipart encoder per attempt. Optional ``progress``.",
    "`BroodURLHandler.get` / `get_json` / `post` / `put` / `delete` / `upload` / `iter_download` / `download_file`":
        "HTTP errors are ``BroodHTTPError`` (a ``requests.HTTPError``) carrying the server's error text; "
        "safe retries; default timeouts.",
    "`ModelRegistry` / `InvalidApiVersion` / `InvalidApiVersionDefinition` / `versioned_model`":
        "Fix of Q9: both exceptions are ``HatcherException`` subclasses (``InvalidApiVersion`` is also "
        "a ``ValueError``).",
    "`testing.make_testing_egg(dest_dir, egg_basename=None, **kwargs)`":
        "Builds real eggs with the standard library (no okonomiyaki).",
    "`core.utils.EggMetadata`": "Backed by hatcher's own egg reader (no okonomiyaki).",
    "`core.utils.RuntimeMetadataV1`": "Backed by hatcher's own runtime reader (no okonomiyaki).",
}

HEADER = """\
Compatibility with the reference hatcher
========================================

This page lists every row of the checklist of the specification of the reference
hatcher's Python API (releases 0.4.2 to 0.17.0, and the older Getting Started page),
with its status here. Scripts written for the reference run unchanged: the names,
signatures, return values and requests are the same. Where the reference had a bug
(the specification's quirks Q1 to Q10), the wire format is kept and the bug is fixed.

Quirks
------

* Q1 (ordering of lists), Q2 (``?force=False`` on every DELETE), Q5 (a matching local
  file yields one ``0``) and Q10 (the underscore platform in v1 runtime upload URLs) are
  kept, because they are part of the observable behaviour or of the wire format.
* Q3: the session-token request goes to the same scheme and host as all other requests.
* Q4: a download without ``Content-Disposition`` raises ``MissingFilenameError``, not
  ``KeyError``; a file name that would leave the destination directory is refused.
* Q6: downloaded files get the permissions of the umask, not owner-only.
* Q7: ``upload_app`` accepts ``verify``.
* Q8: ``_api_version`` still warns.
* Q9: ``InvalidApiVersion`` is a ``HatcherException``.

Beyond the reference (where the specification says the reference does not do this):
HTTP errors carry the server's error text; idempotent requests (GET, PUT, DELETE) are
retried on connection failures and on 502/503/504, and an upload only when its
connection could not be made; ``BroodClientAuth`` renews a session token that the server
expired early and re-sends the request once; requests have timeouts; uploads and
downloads accept a ``progress`` callback; non-JSON bundle files raise ``InvalidBundle``;
teams use the client's API root (the v1 mirror on an API-version-1 client).

Checklist
---------

.. list-table::
   :header-rows: 1
   :widths: 45 20 10 25

   * - Name
     - Since (reference)
     - Status
     - Notes
"""


def rows(spec: str) -> list[tuple[str, str]]:
    """``(name, since)`` of every checklist row."""
    table = spec.split("## 16. Checklist", 1)[1]
    found = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            found.append((cells[0], cells[1]))
    return found


def rst_literal(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"``\1``", text)


def main(spec_path: str) -> None:
    out = [HEADER]
    for name, since in rows(Path(spec_path).read_text(encoding="utf-8")):
        out.append(f"   * - {rst_literal(name)}\n     - {since}\n     - implemented\n"
                   f"     - {NOTES.get(name, '')}\n")
    target = Path(__file__).resolve().parents[1] / "docs" / "compatibility.rst"
    target.write_text("".join(out).rstrip() + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
