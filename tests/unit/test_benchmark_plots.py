"""The benchmark charts (``benchmarks/plots.py``): what they show, that they are reproducible, and that the
committed ones in ``docs/_static/benchmarks`` are exactly what their ``results.json`` draws."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "plots.py"
RUN = ROOT / "benchmarks" / "run.py"
COMMITTED = ROOT / "docs" / "_static" / "benchmarks"
SVG = "{http://www.w3.org/2000/svg}"
MIB = 1 << 20
SERIES_LABELS = ("hatcher (ours)", "reference client 0.17.0", "curl")

#: A small run, in the shape of ``run.py``'s rows (figures from the documentation's full run).
RESULTS = {
    "quick": False, "runs": 3, "date": "2026-12-03",
    "machine": "AMD EPYC, 2 CPUs, 23.5 GiB RAM; Linux 6.18; Python 3.11.7; curl 7.88.1",
    "rows": [
        {"name": "upload 1024 MiB egg (s)", "group": "upload", "format": "{:.2f}", "ours": 2.31,
         "reference": 7.75, "curl": 1.69, "ours_rss": 46 * MIB, "reference_rss": 2082 * MIB, "curl_rss": 11 * MIB},
        {"name": "  same, operation only (s)", "group": "upload", "format": "{:.2f}", "ours": 2.18,
         "reference": 7.59},
        {"name": "server ingest, curl upload (MB/s)", "group": "upload", "format": "{:.0f}", "curl": 634.0},
        {"name": "download 1024 MiB egg (s)", "group": "download", "format": "{:.2f}", "ours": 0.75,
         "reference": 2.58, "curl": 0.92, "ours_rss": 46 * MIB, "reference_rss": 34 * MIB, "curl_rss": 11 * MIB},
        {"name": "batch upload 500 small eggs (s)", "group": "batch", "format": "{:.2f}", "ours": 0.86,
         "reference": 6.29, "ours_rss": 36 * MIB, "reference_rss": 39 * MIB},
        {"name": "egg index p50 (ms)", "group": "index", "format": "{:.1f}", "ours": 90.5, "reference": 87.0,
         "curl": 11.9, "ours_rss": 89 * MIB, "reference_rss": 84 * MIB, "curl_rss": 11 * MIB},
        {"name": "`hatcher --help` (ms)", "group": "startup", "format": "{:.0f}", "ours": 54.0, "reference": 150.0},
        {"name": "UI search page (ms)", "group": "ui", "format": "{:.1f}", "ours": 37.2},
    ],
}
CHARTS = ("transfers", "batch", "index-startup", "web-pages", "memory")


@pytest.fixture(scope="module")
def plots() -> ModuleType:
    if importlib.util.find_spec("matplotlib") is None:
        from service_guard import require_service

        require_service("matplotlib is not installed (it is in the test and docs extras)")
    spec = importlib.util.spec_from_file_location("hatcher_benchmark_plots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def texts(path: Path) -> str:
    """Every piece of text of an SVG, one per line (parsing it checks that it is well-formed XML)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return "\n".join("".join(element.itertext()) for element in root.iter(f"{SVG}text"))


def test_one_chart_per_group_naming_every_operation_and_client(plots: ModuleType, tmp_path: Path) -> None:
    written = plots.draw(RESULTS, tmp_path)
    assert [path.name for path in written] == [f"{name}.svg" for name in CHARTS]
    transfers = texts(tmp_path / "transfers.svg")
    for text in ("Upload and download of one big egg", "upload 1024 MiB egg", "upload 1024 MiB egg, operation",
                 "download 1024 MiB egg", "wall time (s)", "full run, median of 3 runs, 2026-12-03", "AMD EPYC",
                 "2.31", "7.75", "1.69", "0.92", *SERIES_LABELS):
        assert text in transfers
    assert "server ingest" not in transfers  # MB/s, not a time: in the table only
    memory = texts(tmp_path / "memory.svg")
    for text in ("upload 1024 MiB egg", "download 1024 MiB egg", "egg index p50", "batch upload 500 small eggs",
                 "peak RSS (MiB, log scale)", "2082", "46", *SERIES_LABELS):  # 2082 / 11: too wide for a linear axis
        assert text in memory
    assert "`hatcher --help`" not in memory  # no RSS measured
    assert "operation only" not in memory  # a "same, ..." row: the processes of the row above
    startup = texts(tmp_path / "index-startup.svg")
    assert "wall time (ms" in startup and "`hatcher --help`" in startup and "150" in startup
    pages = texts(tmp_path / "web-pages.svg")
    assert "search page" in pages and "37.2" in pages and "hatcher (ours)" in pages
    # a series with no figure has no legend entry
    assert "curl" not in pages.splitlines() and "reference client 0.17.0" not in pages.splitlines()
    assert "curl" in transfers.splitlines()


def test_the_same_figures_draw_the_same_bytes(plots: ModuleType, tmp_path: Path) -> None:
    first, second = plots.draw(RESULTS, tmp_path / "a"), plots.draw(RESULTS, tmp_path / "b")
    for one, other in zip(first, second):
        assert one.read_bytes() == other.read_bytes()
    assert b"<dc:date>" not in first[0].read_bytes()
    changed = json.loads(json.dumps(RESULTS))
    changed["rows"][0]["ours"] = 2.32
    assert plots.draw(changed, tmp_path / "c")[0].read_bytes() != first[0].read_bytes()


def test_a_quick_run_says_so_and_a_run_without_rows_draws_nothing(plots: ModuleType, tmp_path: Path) -> None:
    quick = dict(RESULTS, quick=True, rows=RESULTS["rows"][-1:])
    assert [path.name for path in plots.draw(quick, tmp_path)] == ["web-pages.svg"]
    assert "quick smoke run (small sizes)" in texts(tmp_path / "web-pages.svg")
    assert plots.draw({"rows": []}, tmp_path / "none") == []


def test_rows_of_an_older_results_file_are_put_in_their_group(plots: ModuleType) -> None:
    # --json files written before rows had a "group": their charts come from the row names.
    previous = "other"
    for row in RESULTS["rows"]:
        previous = plots.group_of({"name": row["name"]}, previous)
        assert previous == row["group"]
    older = [{key: value for key, value in row.items() if key != "group"} for row in RESULTS["rows"]]
    assert [plots.bars(chart, older).labels for chart in plots.CHARTS] == \
        [plots.bars(chart, RESULTS["rows"]).labels for chart in plots.CHARTS]


def test_the_committed_charts_are_what_their_results_draw(plots: ModuleType, tmp_path: Path) -> None:
    results = COMMITTED / "results.json"
    subprocess.run([sys.executable, str(SCRIPT), str(results), str(tmp_path)], check=True, timeout=120,
                   capture_output=True)
    drawn = sorted(path.name for path in tmp_path.glob("*.svg"))
    assert drawn == sorted(path.name for path in COMMITTED.glob("*.svg")) == sorted(f"{name}.svg" for name in CHARTS)
    for name in drawn:
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), (
            f"docs/_static/benchmarks/{name} is out of date: run python benchmarks/plots.py "
            "docs/_static/benchmarks/results.json")
    committed = json.loads(results.read_text(encoding="utf-8"))
    assert committed["quick"] is False and committed["runs"] >= 3  # the documentation's charts: a full run


def test_run_py_redraws_from_a_results_file_and_needs_no_matplotlib_otherwise(plots: ModuleType,
                                                                            tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(RESULTS), encoding="utf-8")
    subprocess.run([sys.executable, str(RUN), "--plot-from", str(tmp_path / "results.json")], check=True,
                   timeout=120, capture_output=True)
    plots.draw(RESULTS, tmp_path / "direct")
    for name in CHARTS:
        assert (tmp_path / f"{name}.svg").read_bytes() == (tmp_path / "direct" / f"{name}.svg").read_bytes()
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import run; "
         "print(sorted(m for m in ('matplotlib', 'plots') if m in sys.modules))", str(RUN.parent)],
        check=True, capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "[]"
