"""SVG bar charts of ``benchmarks/run.py``'s figures: ours, the reference client 0.17.0 and curl.

Usage::

    python benchmarks/plots.py RESULTS_JSON [OUTDIR]     # redraw without measuring anything
    python benchmarks/run.py --plot [DIR]                # measure, write DIR/results.json, draw

``RESULTS_JSON`` is the ``results.json`` that ``run.py --plot`` writes (the rows of its table and
the run's particulars); ``OUTDIR`` defaults to that file's directory. One chart per group of
operations, grouped horizontal bars (one bar per client, the figure written at its end), drawn
with matplotlib's SVG backend and nothing else (no pyplot, no display). The output depends only
on the results and on this file: the SVG ids are salted with a constant and the file carries no
date, so ``tests/unit/test_benchmark_plots.py`` checks that the committed charts are exactly what
their ``results.json`` draws.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

MIB = 1 << 20

#: (key in a row, legend label, colour): the Okabe-Ito palette, told apart without colour vision.
SERIES = (
    ("ours", "hatcher (ours)", "#0072B2"),
    ("reference", "reference client 0.17.0", "#E69F00"),
    ("curl", "curl", "#999999"),
)
#: Wider than this many times its smallest bar, a chart's axis is logarithmic.
LOG_SCALE_SPREAD = 30.0
#: Width of an operation's label before it wraps, in characters.
LABEL_WIDTH = 34

RC = {
    "svg.hashsalt": "hatcher-benchmarks",  # constant ids (clip paths), so the same figures give the same file
    "svg.fonttype": "none",  # text stays text: searchable, and smaller
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
#: The SVG's metadata: no date, no matplotlib version (so the bytes do not change with either).
METADATA = {"Date": None, "Creator": "benchmarks/plots.py (hatcher)"}


@dataclass(frozen=True)
class Chart:
    """One SVG: the rows of ``groups`` (the ``group`` of ``run.py``'s rows) in one ``measure``."""

    name: str
    title: str
    groups: tuple[str, ...]
    #: ``"time"`` (the rows' own figure, in their unit: s or ms) or ``"rss"`` (peak RSS, MiB)
    measure: str = "time"


#: The charts, in the order of the documentation.
CHARTS = (
    Chart("transfers", "Upload and download of one big egg: wall time", ("upload", "download")),
    Chart("batch", "Batch upload of small eggs: wall time", ("batch",)),
    Chart("index-startup", "Egg index and start-up", ("index", "startup")),
    Chart("web-pages", "Web interface pages, p50", ("ui",)),
    Chart("memory", "Peak RSS of each client process",
          ("upload", "download", "batch", "index", "startup", "ui"), "rss"),
)

#: ``run.py``'s row names end in their unit, e.g. ``download 1024 MiB egg (s)``.
UNIT = re.compile(r"\s*\(([^()]*)\)\s*$")
TIME_UNITS = {"s": 1.0, "ms": 1e-3}


def unit_of(name: str) -> Optional[str]:
    """The unit at the end of a row's name (``s``, ``ms``, ``MB/s``), or None."""
    match = UNIT.search(name)
    return match.group(1) if match else None


def group_of(row: dict, previous: str = "other") -> str:
    """A row's group: its ``group`` (``run.py`` writes it), or one guessed from the name of an older row.

    A ``same, ...`` row without a ``group`` belongs to the group of the row before it, ``previous``.
    """
    if row.get("group"):
        return row["group"]
    name = row["name"].strip()
    if name.startswith("same, "):
        return previous
    for prefix, group in (("upload", "upload"), ("server ingest", "upload"), ("download", "download"),
                          ("batch", "batch"), ("egg index", "index"), ("`", "startup"), ("UI ", "ui")):
        if name.startswith(prefix):
            return group
    return "other"


def labels(rows: Sequence[dict]) -> list[str]:
    """Readable labels: no unit, and a ``same, ...`` row named after the row it follows."""
    out, subject = [], ""
    for row in rows:
        name = UNIT.sub("", row["name"]).strip()
        if name.startswith("same, "):
            name = f"{subject}, {name[len('same, '):]}"
        else:
            subject = name.split(", ")[0]
        if name.startswith("UI "):  # the web interface's chart says "p50" in its title
            name = re.sub(r", p50 of \d+ GETs$", "", name[3:])
        out.append(name)
    return out


@dataclass
class Bars:
    """What one chart shows: a label and one value per series for each operation, and the axis's unit."""

    chart: Chart
    labels: list[str]
    values: list[dict[str, Optional[float]]]
    formats: list[str]
    unit: str


def bars(chart: Chart, rows: Sequence[dict]) -> Optional[Bars]:
    """The bars of ``chart`` from ``run.py``'s rows (None when it has none)."""
    groups, previous = [], "other"
    for row in rows:
        previous = group_of(row, previous)
        groups.append(previous)
    rows = [row for row, group in zip(rows, groups) if group in chart.groups]
    names = labels(rows)
    chosen: list[tuple[str, dict[str, Optional[float]], str]] = []
    unit = "MiB"
    if chart.measure == "rss":
        # The "same, ..." rows repeat the client processes of the row above, or their kind: one bar each is enough.
        for name, row in zip(names, rows):
            if row["name"].strip().startswith("same, "):
                continue
            values = {key: row[f"{key}_rss"] / MIB if row.get(f"{key}_rss") else None for key, _, _ in SERIES}
            if any(value is not None for value in values.values()):
                chosen.append((name, values, "{:.0f}"))
    else:
        timed = [(name, row) for name, row in zip(names, rows) if unit_of(row["name"]) in TIME_UNITS]
        if timed:
            unit = unit_of(timed[0][1]["name"])
        for name, row in timed:
            scale = TIME_UNITS[unit_of(row["name"])] / TIME_UNITS[unit]
            values = {key: row[key] * scale if row.get(key) is not None else None for key, _, _ in SERIES}
            if any(value is not None for value in values.values()):
                chosen.append((name, values, row.get("format", "{:.2f}")))
    if not chosen:
        return None
    return Bars(chart, [name for name, _, _ in chosen], [values for _, values, _ in chosen],
                [fmt for _, _, fmt in chosen], unit)


def subtitle(results: dict) -> str:
    """The run in one line: full or quick, runs, date, how long it took."""
    kind = "quick smoke run (small sizes)" if results.get("quick") else "full run"
    parts = [kind]
    if results.get("runs"):
        parts.append(f"median of {results['runs']} runs")
    if results.get("date"):
        parts.append(str(results["date"]))
    return ", ".join(parts)


def draw_chart(data: Bars, results: dict, path: Path) -> Path:
    """Draw one chart into ``path`` (an SVG file)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    series = [(key, label, colour) for key, label, colour in SERIES
              if any(values.get(key) is not None for values in data.values)]
    count, per_row = len(data.labels), len(series)
    bar_height = 0.8 / per_row
    wrapped = [textwrap.fill(label, LABEL_WIDTH, break_on_hyphens=False) for label in data.labels]
    lines = sum(label.count("\n") + 1 for label in wrapped)
    height = 1.6 + max(count * (0.2 * per_row + 0.18), lines * 0.16)
    with matplotlib.rc_context(RC):
        figure = Figure(figsize=(8.0, height), layout="constrained")
        axes = figure.add_subplot()
        every = [value for values in data.values for value in values.values() if value]
        logarithmic = bool(every) and max(every) / min(every) > LOG_SCALE_SPREAD
        for index, (key, label, colour) in enumerate(series):
            positions = [row + (index - (per_row - 1) / 2) * bar_height for row in range(count)]
            widths = [values.get(key) or 0.0 for values in data.values]
            axes.barh(positions, widths, height=bar_height * 0.92, color=colour, label=label)
            for position, value, fmt in zip(positions, (values.get(key) for values in data.values), data.formats):
                if value is not None:
                    axes.annotate(f" {fmt.format(value)}", (value, position), va="center", ha="left",
                                  fontsize=7.5, annotation_clip=False)
        axes.set_yticks(range(count), wrapped)
        axes.invert_yaxis()  # the first operation at the top, as in the table
        axes.tick_params(axis="y", length=0)
        measure = "peak RSS" if data.chart.measure == "rss" else "wall time"
        if logarithmic:
            axes.set_xscale("log")
            axes.set_xlim(min(every) / 2, max(every) * 4)
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 100, not 10²
        else:
            axes.set_xlim(0, max(every) * 1.18)
        axes.set_xlabel(f"{measure} ({data.unit}{', log scale' if logarithmic else ''}); shorter is better")
        axes.grid(axis="x", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        figure.suptitle(data.chart.title, x=0.01, ha="left", fontsize=11, fontweight="bold")
        about = subtitle(results) + (f"; machine: {results['machine']}" if results.get("machine") else "")
        axes.set_title(textwrap.fill(about, 90), loc="left", fontsize=7.5, color="#444444")
        figure.legend(loc="outside lower center", ncols=len(series), fontsize=8, frameon=False)
        figure.savefig(path, format="svg", metadata=METADATA, facecolor="white")
    return path


def draw(results: dict, directory: Union[str, Path]) -> list[Path]:
    """Draw every chart that ``results`` has rows for into ``directory``; return the SVGs' paths.

    Parameters
    ----------
    results
        The contents of a ``results.json`` written by ``run.py --plot`` (at least its ``rows``).
    directory
        Where the SVGs go (``<chart name>.svg``); created if needed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in CHARTS:
        data = bars(chart, results.get("rows", []))
        if data is not None:
            written.append(draw_chart(data, results, directory / f"{chart.name}.svg"))
    return written


def draw_file(results_json: Union[str, Path], directory: Union[str, Path, None] = None) -> list[Path]:
    """:func:`draw` the charts of the ``results.json`` file ``results_json`` (into its directory by default)."""
    results: Any = json.loads(Path(results_json).read_text(encoding="utf-8"))
    return draw(results, Path(results_json).parent if directory is None else directory)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(args) <= 2 or args[0].startswith("-"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    for path in draw_file(args[0], args[1] if len(args) > 1 else None):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
