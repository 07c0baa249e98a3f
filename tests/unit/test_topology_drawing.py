"""The topology picture of the deployment guide is exactly what ``tools/draw_topology.py`` draws."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "draw_topology.py"
PICTURE = ROOT / "docs" / "_static" / "topology.svg"
SVG = "{http://www.w3.org/2000/svg}"


def test_the_committed_picture_is_what_the_script_draws(tmp_path: Path) -> None:
    output = tmp_path / "topology.svg"
    subprocess.run([sys.executable, str(SCRIPT), str(output)], check=True, timeout=60)
    assert output.read_text(encoding="utf-8") == PICTURE.read_text(encoding="utf-8"), (
        "docs/_static/topology.svg is out of date: run python tools/draw_topology.py")


def test_the_picture_is_an_svg_document_naming_every_part() -> None:
    root = ET.parse(PICTURE).getroot()
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title") is not None
    texts = " ".join(element.text or "" for element in root.iter(f"{SVG}text"))
    for part in ("nginx", "replica 1", "replica N", "PostgreSQL", "LISTEN/NOTIFY", "S3 bucket",
                 "--s3-presigned-downloads"):
        assert part in texts
