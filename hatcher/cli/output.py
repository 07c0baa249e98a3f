"""What commands print: tables in the reference's exact layout, JSON documents, context tables, messages.

The table layouts are those of the ``tabulate`` package ("simple" with headers, "plain"
without), reproduced here so that scripts that parse the reference's output keep working;
a test compares them with ``tabulate`` itself.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from typing import Any, Iterable, Sequence

import click

_INT_RE = re.compile(r"[-+]?\d+\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z|[-+]?(?:inf|nan)\Z", re.I)


def _kind(value: Any) -> int:
    """0 for an int-like cell, 1 for a float-like one, 2 for text (tabulate's column typing)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 2
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 1
    text = value.decode() if isinstance(value, bytes) else str(value)
    if _INT_RE.match(text.strip()):
        return 0
    if _FLOAT_RE.match(text.strip()):
        return 1
    return 2


def _format(value: Any, kind: int) -> str:
    if value is None:
        return ""
    if kind == 0:
        return str(int(str(value).strip())) if not isinstance(value, int) else str(value)
    if kind == 1:
        return format(float(value), "g")
    return str(value)


def _align(cells: list[str], kind: int, width: int) -> list[str]:
    if kind == 2:
        return [cell.ljust(width) for cell in cells]
    if kind == 0:
        return [cell.rjust(width) for cell in cells]
    # Decimal alignment: line the points up, then right-align the block.
    decimals = [len(cell) - cell.index(".") - 1 if "." in cell else -1 for cell in cells if cell]
    most = max(decimals, default=-1)
    padded = []
    for cell in cells:
        places = len(cell) - cell.index(".") - 1 if "." in cell else -1
        padded.append(cell + " " * (most - places) if cell else cell)
    widest = max((len(cell) for cell in padded), default=0)
    return [cell.rjust(max(width, widest)) for cell in padded]


def _columns(rows: Sequence[Sequence[Any]], headers: Sequence[str] | None) -> list[list[str]]:
    count = len(headers) if headers else max((len(row) for row in rows), default=0)
    columns: list[list[str]] = []
    for index in range(count):
        values = [row[index] if index < len(row) else None for row in rows]
        kind = max((_kind(v) for v in values if v is not None), default=2)
        cells = [_format(v, kind) for v in values]
        minimum = len(headers[index]) + 2 if headers else 0
        width = max([minimum] + [len(cell) for cell in cells])
        aligned = _align(cells, kind, width)
        width = max(len(cell) for cell in aligned) if aligned else width
        header = []
        if headers:
            title = headers[index]
            header = [title.ljust(width) if kind == 2 else title.rjust(width)]
        columns.append(header + aligned)
    return columns


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A table with a header row and a row of dashes per column, columns two spaces apart.

    Text is left-aligned and numbers right-aligned (decimal-aligned for floats), every
    column is at least its header's width plus two, ``None`` shows as an empty cell, and
    lines carry no trailing spaces.
    """
    rows = [list(row) for row in rows]
    columns = _columns(rows, headers)
    widths = [len(column[0]) for column in columns]
    lines = ["  ".join(column[0] for column in columns), "  ".join("-" * width for width in widths)]
    lines.extend("  ".join(column[i + 1] for column in columns) for i in range(len(rows)))
    return "\n".join(line.rstrip() for line in lines)


def plain_table(rows: Iterable[Sequence[Any]]) -> str:
    """Rows without a header, columns two spaces apart, text left-aligned."""
    rows = [list(row) for row in rows]
    columns = _columns(rows, None)
    return "\n".join("  ".join(column[i] for column in columns).rstrip() for i in range(len(rows)))


def echo_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """Print :func:`table`."""
    click.echo(table(rows, headers))


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON with two-space indentation and sorted keys."""
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def echo_success(message: str) -> None:
    """Print a success line (green on a terminal) on stdout."""
    click.secho(message, fg="green")


def echo_error(message: str) -> None:
    """Print an error line (red on a terminal) on stderr."""
    click.secho(message, fg="red", err=True)


def local_time(now: datetime.datetime | None = None) -> str:
    """``YYYY-MM-DD HH:MM:SS <zone abbreviation> (<+HHMM>)`` in the local time zone."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone()
    zone = now.tzname() or time.tzname[0] or "UTC"
    return f"{now:%Y-%m-%d %H:%M:%S} {zone} ({now:%z})"


def upload_context(kind: str, subject: str, server: str, repository: str, platform: str | None = None) -> str:
    """The table printed before an upload: ``<Kind> upload``, Server, Repository, [Platform], Time."""
    rows = [(f"{kind} upload", subject), ("Server", server), ("Repository", repository)]
    if platform is not None:
        rows.append(("Platform", platform))
    rows.append(("Time", local_time()))
    return plain_table(rows)


def upload_report(kind: str, subject: str, server: str, repository: str, platform: str | None = None) -> dict[str, Any]:
    """The ``--json`` document of an upload command: what :func:`upload_context` shows, as data.

    ``{"upload": <kind, lower case>, "file": ..., "server": ..., "repository": "org/repo",
    "platform": ... (egg uploads only), "time": <ISO 8601 local time>}``.
    """
    report: dict[str, Any] = {"upload": kind.lower(), "file": subject, "server": server, "repository": repository}
    if platform is not None:
        report["platform"] = platform
    report["time"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return report


def echo_names(key: str, names: Iterable[str], as_json: bool) -> None:
    """Print ``names`` one per line, or with ``as_json`` the document ``{key: [name, ...]}``."""
    names = list(names)
    if as_json:
        echo_json({key: names})
    else:
        for name in names:
            click.echo(name)


def echo_column(key: str, header: str, values: Iterable[Any], as_json: bool) -> None:
    """Print ``values`` as a one-column :func:`table` headed ``header``, or ``{key: [value, ...]}``."""
    values = list(values)
    if as_json:
        echo_json({key: values})
    else:
        echo_table([(value,) for value in values], [header])


# -- help text for a terminal -------------------------------------------------------------------

_LITERAL = re.compile(r"``(.+?)``", re.S)
_ROLE = re.compile(r":[\w.+-]+:`([^`]+)`")
_LINK = re.compile(r"`([^`<]*?)\s*<[^>`]+>`_{0,2}")
_INTERPRETED = re.compile(r"`([^`]+)`_{0,2}")
# reStructuredText's rule: a start-string follows whitespace or an opening punctuation mark
# and precedes a non-space that does not close it ('*' is no emphasis); an end-string
# follows a non-space and precedes whitespace or punctuation.
_START = r"(?<![^\s\-:/'\"(<\[{])"
_END = r"(?![^\s\-.,:;!?/'\")\]}>])"
_STRONG = re.compile(_START + r"\*\*(?![\s'\")\]}>])(.+?)(?<!\s)\*\*" + _END, re.S)
_EMPHASIS = re.compile(_START + r"\*(?![\s*'\")\]}>])([^*]+?)(?<![\s\\])\*" + _END, re.S)
_LITERAL_BLOCK = re.compile(r"(\s*)::$", re.M)
_ESCAPE = re.compile(r"\\(.)")


def _role_text(match: re.Match[str]) -> str:
    """The text a role shows: its title (``Title <target>``), or its target without ``~`` / ``!`` prefixes."""
    content = match.group(1)
    titled = re.fullmatch(r"(.*?)\s*<[^>]*>", content, re.S)
    if titled and titled.group(1):
        return titled.group(1)
    if content.startswith("~"):
        return content[1:].rsplit(".", 1)[-1]
    return content.lstrip("!")


def _plain_prose(text: str) -> str:
    text = _ROLE.sub(_role_text, text)
    text = _LINK.sub(lambda match: match.group(1), text)
    text = _INTERPRETED.sub(lambda match: match.group(1), text)
    text = _STRONG.sub(lambda match: match.group(1), text)
    text = _EMPHASIS.sub(lambda match: match.group(1), text)
    text = _LITERAL_BLOCK.sub(lambda match: "" if match.group(1) else ":", text)
    return _ESCAPE.sub(lambda match: match.group(1), text)


def plain_text(text: str) -> str:
    """``text`` (a command's or option's help, in reStructuredText) without its markup, for a terminal.

    ````x```` becomes x, a role such as ``:option:`--verify``` its text (or its title),
    ``*emphasis*`` and ``**strong**`` their words, a link its title, ``word::`` ``word:``.
    The content of inline literals is kept as written. The Sphinx pages render the same
    text with its markup.
    """
    parts = _LITERAL.split(text)
    # even indices: prose; odd indices: the contents of inline literals
    return "".join(part if index % 2 else _plain_prose(part) for index, part in enumerate(parts))
