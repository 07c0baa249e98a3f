"""Regenerate docs/compatibility.rst from the checklists of the Python API and command line specifications.

Usage: python tools/make_compat_page.py ../shared/spec/hatcher-python-api.md [../shared/spec/hatcher-cli.md]

The command line specification defaults to ``hatcher-cli.md`` beside the API specification.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOWNLOAD_NOTE = ("No file before the first ``next()``; an abandoned iterator leaves the directory as it was; "
                 "chunks of up to 1 MiB (reference: 64 KiB). See the download notes above.")

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
        "a ``ValueError``; same ``args`` as the reference, a longer message).",
    "`SinglePlatformRepository.iter_download_egg(...)` (same parameters)": DOWNLOAD_NOTE,
    "`SinglePlatformRepository.iter_download_runtime(..., destination, expected_sha256=None)`": DOWNLOAD_NOTE,
    "`testing.make_testing_egg(dest_dir, egg_basename=None, **kwargs)`":
        "Builds real eggs with the standard library (no okonomiyaki).",
    "`core.utils.EggMetadata`": "Backed by hatcher's own egg reader (no okonomiyaki).",
    "`core.utils.RuntimeMetadataV1`": "Backed by hatcher's own runtime reader (no okonomiyaki).",
    "`BroodClient.create_api_token(name)`": "Also takes ``scopes`` and ``expires`` (sent only when given, "
                                            "see :doc:`security`).",
    "`BroodClient.list_api_tokens()`": "hatcher's server adds ``scopes`` and ``expires`` to a token that has either.",
}

CLI_NOTES = {
    "global `-d/--debug`": "Without it every expected failure is one line on stderr with exit status 1 "
                           "(the reference: 255, or a traceback and 1 for unrecognised HTTP errors).",
    "global `--api-version [0\\|1]`": "Also selects the command set, as in the reference.",
    "global `--command-tree`": "Also lists ``server`` and ``serve`` (added).",
    "`HATCHER_*` environment variables": "Same rule; also ``HATCHER_NO_PROGRESS`` and ``..._AS_JSON`` for "
                                         "the added options.",
    "`api-tokens create NAME`": "``--json``, ``--scope`` and ``--expires`` added (:doc:`security`).",
    "`api-tokens list`": "``--json`` added; ``Scopes`` and ``Expires`` columns when some token has them.",
    "`organizations list`": "``--json`` added.",
    "`repositories list ORGANIZATION`": "``--json`` added.",
    "`user repositories [--include-indexable]`": "``--json`` added.",
    "`platforms list`": "``--json`` added.",
    "`python-tags list [--all]`": "``--json`` added.",
    "`eggs list`": "``--json`` added.",
    "`eggs metadata`": "``--json`` accepted (same document).",
    "`eggs download`": "Progress bar on stderr, only on a terminal.",
    "`eggs upload [--force] [--verify/--no-verify]`": "``--json`` added; upload progress on stderr.",
    "`eggs batch-upload [--force] [--index/--no-index] [--index_timeout N]`":
        "Parallel (``--jobs``, default 4); small eggs sent without a lookup first (a refused duplicate is "
        "then compared by checksum); eggs whose upload the server confirms are not polled; continues past "
        "failures and reports them in a summary (exit status 1, nothing indexed); ``--json`` added.",
    "`runtimes list` (v0 / v1 forms)": "``--json`` added.",
    "`runtimes metadata` (v0 / v1 forms)": "``--json`` accepted (same document).",
    "`runtimes download` (v0 / v1 forms)": "Progress bar on stderr, only on a terminal.",
    "`runtimes upload [--force] [--verify/--no-verify]`": "``--json`` added.",
    "`bundles list` (v1)": "``--json`` added.",
    "`bundles index` (v1)": "``--json`` accepted (same document).",
    "`bundles metadata` (v1)": "``--json`` accepted (same document).",
    "`bundles download [--force]` (v1)": "``--json`` added.",
    "`bundles upload [--force]` (v1)": "Fixed: the context table's ``Server`` row shows the server URL; "
                                       "``--json`` added.",
    "`export [-a] [-r] [-p] [-t] TARGET_DIR`":
        "Index and metadata requests also run on the 4 workers; a failed download is one line "
        "``Error downloading <name>: <reason>``; the lines printed are the reference's (:ref:`compat-cli-text`).",
    "`import [-a] [-r] [-p] [-f] [-c] ROOT_DIR` (v1)":
        "Fixed: apps are imported (with verification); eggs go through the parallel batch procedure; "
        "a bad ``-r`` value or missing organization exits with status 1.",
    "`apps list`": "Restored (removed upstream in 0.13.0); ``--json`` added.",
    "`apps upload [--force]`": "Restored; ``--json`` added.",
    "`apps metadata`": "Restored.",
    "`teams metadata`": "Restored (API version 0); prints JSON instead of a Python literal.",
}

CLI_DEFAULT_NOTE = {
    "teams": "Restored (removed upstream in 0.11.0); API version 0.",
}

CLI_HEADER = """
Command line
------------

Every row of the checklist of the command line specification, with its status here.
Throughout: exit statuses are 0 (success), 1 (the operation failed) and 2 (usage
error), never 255; an expected failure prints one line on stderr and no traceback
unless ``--debug``; every command that prints data takes ``--json`` and then prints one
JSON document; progress bars go to stderr, only when it is a terminal and
``--no-progress`` is not given. Added commands: ``server run``, ``server set-password``,
``server unlock``, ``server gc``, ``server db upgrade`` and the alias ``serve`` (the
embedded Brood server), and ``audit list`` (:doc:`security`). See :doc:`cli`.
"""

CLI_TEXT_SECTION = """
.. _compat-cli-text:

Text of the command line
~~~~~~~~~~~~~~~~~~~~~~~~

Scripts and habits depend on these lines, so they are the reference's, byte for byte;
``tests/conformance/test_cli_text.py`` runs both clients with the same arguments and
standard input against one server and compares what they print:

* the confirmation prompts of ``eggs delete``, ``runtimes delete``, ``users delete``,
  ``api-tokens delete`` and ``repositories delete`` (for instance ``numpy-1.8.0-1 (cp27)
  will be deleted from acme/dev. Proceed? [y/N]:`` and ``API token 'laptop' will be
  deleted. Proceed? [y/N]:``), declined (exit status 0) or at end of input (``Aborted!``,
  exit status 1);
* the per-step lines of ``export`` (``Exporting eggs from ORG/REPO for PLATFORM and
  python-tags: TAG``, the runtimes line whenever the platform has runtimes, even if none
  fits ``-t``), and with API version 0 the note ``Exporting runtimes is not supported for
  api version 0`` on stderr, also when runtimes were asked for only by default;
* the empty line on stdout where the reference ends a progress bar's line: after a
  download, a batch upload, and each batch of ``export`` and ``import``. Here bars are
  drawn on stderr, and only on a terminal; when a bar is drawn, it ends its own line
  instead;
* usage lines of every command of both API versions (``Usage: hatcher [OPTIONS] COMMAND
  [ARGS]...`` for the groups, although click 8.2 and later would print ``[COMMAND]``),
  at 80 and 200 columns;
* usage errors: ``Try 'hatcher eggs upload -h' for help.`` (click 8.2 and later would
  name ``--help``), ``No such option: --verif (Possible options: --no-verify,
  --verify)``, unknown commands, missing arguments and ``-u``.

The differences that remain, each asserted exactly as written here by the same test:

.. list-table::
   :header-rows: 1
   :widths: 25 25 25 25

   * - Invocation
     - Reference
     - Here
     - Reason
   * - ``eggs batch-upload -j 2 ...``
     - ``Error: No such option: -j`` (exit status 2)
     - runs with 2 parallel uploads
     - ``-j`` / ``--jobs`` is an addition.
   * - ``eggs upload ORG REPO PLATFORM bad.egg`` (a file name that is not an egg's)
     - ``Invalid egg name: 'bad.egg'`` (exit status 255)
     - ``Invalid egg name 'bad.egg': expected '<name>-<version>-<build>.egg'`` (exit status 1)
     - The message says what a valid name looks like; exit status 1 as for every expected
       failure (see the global options above).
   * - ``--help`` of any command
     - the reference's descriptions
     - this project's own descriptions and options (``--json``, ``--no-progress``...),
       as plain text
     - Only the usage lines are behaviour; the descriptions are not copied. Help is
       written in reStructuredText for these pages and printed without its markup.
"""

PROFILES_SECTION = """
Profiles and login
~~~~~~~~~~~~~~~~~~

Additions the reference does not have (see :ref:`cli-profiles`); the
specification's "there is no configuration file" no longer holds, but without a
configuration file, ``--profile`` and ``HATCHER_PROFILE`` everything behaves as before.

* A TOML configuration file (``HATCHER_CONFIG``, else
  ``~/.config/hatcher/config.toml``) of named profiles: ``url``, ``username``, ``token``
  or ``keyring``, ``token_name``, ``api_version``, ``verify`` (true, false or a CA bundle).
  The global option ``--profile`` / ``HATCHER_PROFILE`` chooses one, else the file's
  ``default``. Options and ``HATCHER_*`` variables win over the profile; a profile's token
  is only sent to the profile's own URL.
* ``-p`` without ``-U`` is not a usage error when the chosen profile has a ``username``.
* ``login`` (a password exchanged for an API token, stored in the system keyring with
  ``hatcher[keyring]``, else in the file with mode 0600) and ``logout`` (the token revoked
  on the server and removed locally): two top-level commands more in ``--command-tree``.
* A token with characters other than printable ASCII is refused on one line (the
  reference lets requests fail with the header, token included, in its message).
* ``--command-tree`` prints the tree whatever else is given, as the reference does
  (``hatcher -p secret --command-tree`` prints it, same format); hatcher also ignores an
  unknown profile or a broken configuration file there. Its content differs from the
  reference's by the added top-level entries ``apps``, ``audit``, ``login``, ``logout``,
  ``serve``, ``server`` and ``teams``. Options click cannot parse (``--command-tree -u``)
  are usage errors in both. With ``HATCHER_API_VERSION=0`` (and no ``--api-version``) the
  reference's tree still lists version 1's commands, which it then refuses; hatcher's
  lists version 0's, as does a profile's ``api_version = 0``.
"""

SERVER_SECTION = """
The embedded server on several replicas
---------------------------------------

Behaviours of the embedded server (:doc:`server`) that a client can tell apart from one
Brood server process, each with its reason. They concern servers on PostgreSQL and S3,
alone or as replicas (:doc:`deployment`).

* Setting a password (``hatcher server set-password``) ends that user's session tokens on
  every replica, and the old password stops working on every replica; a session token
  obtained with the old password gets 401. Reason: a revoked credential must stop working
  everywhere, and a session token is a credential derived from the password. The
  replicas tell each other through PostgreSQL (``LISTEN``/``NOTIFY``).
* With ``--s3-presigned-downloads``, a download is answered ``302 Found`` to a URL signed
  for that many seconds, not ``200`` with the file; the client fetches the file from S3.
  The redirect carries ``Content-Disposition`` (and the ``ETag``). Reason: the files'
  bytes then pass through neither the load balancer nor the replicas. hatcher's client
  takes the file name from the redirect when the final answer has none (S3 knows no file
  names); with static credentials (``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``) the
  signed URL also asks S3 to answer with the same ``Content-Disposition``, so that clients
  reading only the final answer, as the reference hatcher does, find the name too.
* The file of a deleted (or overwritten) artefact stays in the store for a grace period
  (``--gc-grace``: an hour by default for S3, none for files) before garbage collection
  removes it; an upload of the same content within it reuses the file. The artefact itself
  is gone at once. Reason: a presigned URL given out before the deletion stays valid for
  its lifetime, and an upload's object exists a moment before its database row.
* When PostgreSQL or S3 cannot be reached, requests that need them are answered ``503``
  with a JSON ``{"error": ...}`` naming which, within 15 seconds, and the server answers
  normally again once they are back; ``GET /health`` keeps answering 200. Reason: 503 is
  the answer clients retry, and the process has no reason to exit.

Security
--------

Behaviours of the embedded server that a client of a Brood server would not see there
(:doc:`security`), each with its reason.

* After 10 wrong passwords for one account from one address within 15 minutes, that
  account's password logins from that address get ``429`` with ``Retry-After`` for 15
  minutes, even with the right password; API tokens keep working. Reason: unlimited
  guesses; the reference client shows the JSON error as it shows a 401's.
* A login for an unknown e-mail takes as long as a wrong password for a known one. Reason:
  response times must not tell who has an account.
* ``POST .../auth/tokens/api`` also takes ``scopes`` and ``expires``; the token list shows
  both for a token that has either. A token made with a name only, as the reference client makes them, behaves as
  before. Reason: a CI job should hold a token that can do no more than its job.
* Changes and failed logins are recorded in an audit log (``GET
  /api/v1/json/admin/audit``). Reason: who changed what, when and from where.
* ``GET /openapi.json`` is served without credentials. Reason: clients can be generated
  and the API fuzzed; it reveals nothing the specification does not.
"""

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
* Q9: ``InvalidApiVersion`` is a ``HatcherException`` (and a ``ValueError``). It is raised,
  as by the reference, for any number above ``MAX_API_VERSION`` (``2``, ``1.5``), and its
  ``args`` are the reference's, ``(api_version,)``; its message says more than the
  reference's (which is the bare version, e.g. ``2``): ``Unsupported API version: 2
  (supported: 0 to 1)``. Other values that are not 0 or 1 (``-1``, ``None``, ``"1"``,
  ``1.0``, ``True``) raise ``ValueError``, where the reference accepts ``1.0`` and ``True``
  and raises ``TypeError`` for ``"1"``.

Beyond the reference (where the specification says the reference does not do this):
HTTP errors carry the server's error text; idempotent requests (GET, PUT, DELETE) are
retried on connection failures and on 502/503/504, and an upload only when its
connection could not be made; ``BroodClientAuth`` renews a session token that the server
expired early and re-sends the request once; requests have timeouts; uploads and
downloads accept a ``progress`` callback; non-JSON bundle files raise ``InvalidBundle``;
teams use the client's API root (the v1 mirror on an API-version-1 client).

Downloads (``iter_download_egg``, ``iter_download_runtime``, ``BroodURLHandler.iter_download``):

* As in the reference, the requests are sent when the method is called, so the length is
  known, and no file is created until the caller starts iterating. Unlike the reference,
  an iterator abandoned before its end (``close()``, or dropped and garbage-collected),
  started or not, closes its connection and removes the ``.hatcher-partial`` file it
  created: the directory is left exactly as it was. A transfer that fails (the connection
  breaks more often than it is resumed, or an exception such as ``KeyboardInterrupt`` is
  raised inside it) keeps its partial file, and the next download resumes it with a
  ``Range`` request; an abandoned download that resumed an existing partial file keeps it.
  A ``KeyboardInterrupt`` raised in the caller's own loop, between two chunks, leaves the
  iterator unfinished, and dropping it counts as abandoning: its partial file is removed.
* The iterator is a generator-like object (``collections.abc.Generator``: ``send``,
  ``throw``, ``close``), not a Python generator, so ``inspect.isgenerator()`` is false for
  it: that is what lets it create nothing until the first ``next()`` and clean up when
  dropped.
* The iterators yield the size of each chunk received: at most 1 MiB at a time, where the
  reference yields 64 KiB (measured: a 3,146,546-byte egg gives 48 chunks of 65,536 bytes
  and one of 818 with the reference, three of 1,048,576 and one of 818 here). The only
  larger value is Q5's single ``content_length`` for a file already in place. Code that
  counts chunks, or expects 64 KiB, sees fewer, larger ones; the sum is the same.
* ``tests/conformance/test_same_script.py`` runs one script with both clients against one
  server and checks all of this: the same ``InvalidApiVersion`` (``args`` the version),
  no file after the call or after dropping the iterator, the same file at the end, and
  exactly these two differences.

Platform names of v0 runtimes and apps (the embedded server; a choice, the specification
leaves it open except for the v0 runtime index):

* A v0 runtime or an app uploaded with a legacy platform name such as ``rh5-64`` keeps
  that name everywhere API v0 shows it: the ``platform`` of the v0 runtime index and
  metadata (as in the specification's example), of the v0 app index and of the app
  metadata, whichever spelling (``rh5-64``, ``rh5-x86_64``, ``rh5_x86_64``) the URL
  uses. API v1 is unchanged: its app index gives the canonical ``rh5-x86_64`` while the
  app metadata, the stored description, says ``rh5-64``. Checked through the reference
  client (``tests/conformance/test_legacy_platforms.py``).

Checklist
---------
"""


def rows(spec: str, heading: str = "## 16. Checklist") -> list[tuple[str, str]]:
    """``(name, since)`` of every checklist row below ``heading``."""
    table = spec.split(heading, 1)[1]
    found = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 3 and "`" in cells[0] and not set(cells[0]) <= {"-", " "}:
            found.append((cells[0], cells[1]))
    return found


def cli_note(name: str) -> str:
    """The note of a row of the command line checklist."""
    if name in CLI_NOTES:
        return CLI_NOTES[name]
    return CLI_DEFAULT_NOTE.get(name.strip("`").split()[0], "")


def rst_literal(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"``\1``", text)


def table_head(first_column: str) -> str:
    """The head of a checklist's list-table."""
    return (f"\n.. list-table::\n   :header-rows: 1\n   :widths: 45 20 10 25\n\n   * - {first_column}\n"
            "     - Since (reference)\n     - Status\n     - Notes\n")


def list_row(name: str, since: str, note: str) -> str:
    """One row of a list-table, status "implemented"."""
    return f"   * - {rst_literal(name)}\n     - {rst_literal(since)}\n     - implemented\n     - {note}\n"


def render(spec_path: str, cli_spec_path: str | None = None) -> str:
    """The text of ``docs/compatibility.rst`` for these specifications."""
    cli_spec = Path(cli_spec_path) if cli_spec_path else Path(spec_path).with_name("hatcher-cli.md")
    out = [HEADER, table_head("Name")]
    for name, since in rows(Path(spec_path).read_text(encoding="utf-8")):
        out.append(list_row(name, since, NOTES.get(name, "")))
    out += [CLI_HEADER, table_head("Command or option")]
    for name, since in rows(cli_spec.read_text(encoding="utf-8"), "## 8. Checklist"):
        out.append(list_row(name.replace("\\|", "|"), since, cli_note(name)))
    out.append(CLI_TEXT_SECTION)
    out.append(PROFILES_SECTION)
    out.append(SERVER_SECTION)
    return "".join(out).rstrip() + "\n"


def main(spec_path: str, cli_spec_path: str | None = None) -> None:
    target = Path(__file__).resolve().parents[1] / "docs" / "compatibility.rst"
    target.write_text(render(spec_path, cli_spec_path), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
