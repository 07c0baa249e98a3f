"""Draw the scale-out topology of the embedded Brood as an SVG (docs/_static/topology.svg).

Usage: python tools/draw_topology.py [OUTPUT]

Clients reach an nginx load balancer, which spreads requests over N hatcher server
replicas; every replica uses one PostgreSQL database and one S3 bucket. The dashed arrow is
the optional presigned download, straight from the bucket to the client. Only the standard
library is used, and the output depends on nothing but this file, so
``tests/unit/test_topology_drawing.py`` can check that the committed picture is what the
script draws. The colours follow the reader's light or dark preference
(``prefers-color-scheme``).
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path
from typing import Optional, Sequence

WIDTH, HEIGHT = 960, 680
#: The default output, relative to the repository's root.
DEFAULT_OUTPUT = Path("docs") / "_static" / "topology.svg"

TITLE_SIZE, TEXT_SIZE, SMALL_SIZE = 15, 13, 12
#: Rough width of a character, in font sizes: enough to check that labels fit their boxes.
CHAR_WIDTH = {"bold": 0.62, "normal": 0.56}

STYLE = """\
  .bg { fill: #ffffff; }
  text { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; fill: #1f2328; }
  .title { font-weight: bold; }
  .muted { fill: #57606a; }
  .group { fill: #f6f8fa; stroke: #8c959f; stroke-width: 1; }
  .client { fill: #ddf4ff; stroke: #0969da; stroke-width: 1.5; }
  .balancer { fill: #dafbe1; stroke: #1a7f37; stroke-width: 1.5; }
  .replica { fill: #fbefff; stroke: #8250df; stroke-width: 1.5; }
  .store { fill: #fff8c5; stroke: #9a6700; stroke-width: 1.5; }
  .edge { fill: none; stroke: #57606a; stroke-width: 1.6; }
  .head { fill: #57606a; }
  .presigned { fill: none; stroke: #9a6700; stroke-width: 1.8; stroke-dasharray: 7 5; }
  .presigned-head { fill: #9a6700; }
  .halo { paint-order: stroke; stroke: #ffffff; stroke-width: 5; stroke-linejoin: round; }
  @media (prefers-color-scheme: dark) {
    .bg { fill: #1c2128; }
    text { fill: #e6edf3; }
    .muted { fill: #adbac7; }
    .group { fill: #22272e; stroke: #636e7b; }
    .client { fill: #0d2d5e; stroke: #539bf5; }
    .balancer { fill: #113417; stroke: #57ab5a; }
    .replica { fill: #2e1a47; stroke: #b083f0; }
    .store { fill: #3b2c05; stroke: #c69026; }
    .edge { stroke: #adbac7; }
    .head { fill: #adbac7; }
    .presigned { stroke: #daaa3f; }
    .presigned-head { fill: #daaa3f; }
    .halo { stroke: #1c2128; }
  }
"""


def _number(value: float) -> str:
    """A coordinate without a needless ``.0``."""
    return f"{value:g}"


def text_width(text: str, size: float, weight: str = "normal") -> float:
    """An estimate of the width of ``text`` in pixels (generous for a sans-serif font)."""
    return len(text) * size * CHAR_WIDTH[weight]


class Drawing:
    """The elements of the picture, in drawing order."""

    def __init__(self) -> None:
        self.elements: list[str] = []

    def add(self, element: str) -> None:
        self.elements.append("  " + element)

    def text(self, x: float, y: float, content: str, size: int = TEXT_SIZE, css: str = "",
             anchor: str = "middle", rotate: Optional[float] = None) -> None:
        """A line of text whose baseline is at ``y``."""
        attributes = f'x="{_number(x)}" y="{_number(y)}" font-size="{size}" text-anchor="{anchor}"'
        if css:
            attributes += f' class="{css}"'
        if rotate is not None:
            attributes += f' transform="rotate({_number(rotate)} {_number(x)} {_number(y)})"'
        self.add(f"<text {attributes}>{escape(content)}</text>")

    def box(self, x: float, y: float, width: float, height: float, css: str, lines: Sequence[str]) -> None:
        """A rounded box with a bold first line and smaller muted lines below it, centred."""
        self.add(f'<rect x="{_number(x)}" y="{_number(y)}" width="{_number(width)}" height="{_number(height)}" '
                 f'rx="8" class="{css}"/>')
        self._centred_lines(x + width / 2, y + height / 2, width, lines)

    def cylinder(self, x: float, y: float, width: float, height: float, lines: Sequence[str]) -> None:
        """A storage cylinder (its top ellipse at ``y``) with its lines centred in the body."""
        ry = 12
        left, right, bottom = x, x + width, y + height
        half = width / 2
        body = (f"M {_number(left)} {_number(y + ry)} "
                f"L {_number(left)} {_number(bottom - ry)} "
                f"A {_number(half)} {ry} 0 0 0 {_number(right)} {_number(bottom - ry)} "
                f"L {_number(right)} {_number(y + ry)} "
                f"A {_number(half)} {ry} 0 0 0 {_number(left)} {_number(y + ry)} Z")
        self.add(f'<path d="{body}" class="store"/>')
        self.add(f'<ellipse cx="{_number(x + half)}" cy="{_number(y + ry)}" rx="{_number(half)}" ry="{ry}" '
                 f'class="store"/>')
        self._centred_lines(x + half, y + ry + (height - ry) / 2, width, lines)

    def _centred_lines(self, cx: float, cy: float, width: float, lines: Sequence[str]) -> None:
        sizes = [TITLE_SIZE] + [SMALL_SIZE] * (len(lines) - 1)
        gaps = [size * 1.35 for size in sizes]
        top = cy - sum(gaps) / 2
        for index, (line, size) in enumerate(zip(lines, sizes)):
            weight = "bold" if index == 0 else "normal"
            if text_width(line, size, weight) > width - 16:
                raise ValueError(f"label too wide for its box ({width} px): {line!r}")
            baseline = top + sum(gaps[:index]) + size * 1.05
            self.text(cx, baseline, line, size, "title" if index == 0 else "muted")

    def arrow(self, points: Sequence[tuple[float, float]], css: str = "edge", head: str = "arrow") -> None:
        """A polyline from the first point to the last, with an arrowhead at the end."""
        path = " ".join(f"{'M' if index == 0 else 'L'} {_number(x)} {_number(y)}"
                        for index, (x, y) in enumerate(points))
        self.add(f'<path d="{path}" class="{css}" marker-end="url(#{head})"/>')

    def render(self) -> str:
        marker = ('<marker id="{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
                  'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="{css}"/></marker>')
        return "\n".join([
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title desc">',
            '  <title id="title">hatcher server replicas behind nginx, on one PostgreSQL database and one S3 '
            "bucket</title>",
            '  <desc id="desc">Clients (the hatcher command line, the Python library, the reference hatcher) send '
            "HTTP requests to an nginx load balancer, which spreads them round robin over N identical hatcher "
            "server replicas. Every replica keeps metadata, advisory locks and cache invalidations "
            "(LISTEN/NOTIFY) in one PostgreSQL database, and artefact files in one S3 bucket. Optionally, "
            "downloads are answered with a redirect to a presigned URL, and the client fetches the file "
            "straight from S3.</desc>",
            f"  <style>\n{STYLE}  </style>",
            "  <defs>",
            "    " + marker.format(id="arrow", css="head"),
            "    " + marker.format(id="presigned-arrow", css="presigned-head"),
            "  </defs>",
            f'  <rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" rx="12" class="bg"/>',
            *self.elements,
            "</svg>",
            "",
        ])


def draw() -> str:
    """The SVG text of the topology picture."""
    d = Drawing()
    centre = 420

    # Clients.
    d.add('<rect x="40" y="20" width="760" height="122" rx="12" class="group"/>')
    d.text(60, 81, "clients", SMALL_SIZE, "title", rotate=-90)
    clients = [("hatcher command line", "hatcher eggs upload ..."),
               ("Python library", "hatcher.api.BroodClient"),
               ("reference hatcher", "releases 0.4 to 0.17")]
    for index, lines in enumerate(clients):
        d.box(80 + index * 240, 48, 225, 66, "client", lines)

    # Load balancer.
    d.arrow([(centre, 142), (centre, 196)])
    d.text(centre + 12, 174, "HTTP(S): Brood REST API v0 and v1", SMALL_SIZE, "muted halo", anchor="start")
    d.box(centre - 180, 198, 360, 66, "balancer", ("nginx load balancer", "round robin; passive health checks"))

    # Replicas.
    d.add('<rect x="40" y="310" width="760" height="138" rx="12" class="group"/>')
    d.text(60, 379, "replicas", SMALL_SIZE, "title", rotate=-90)
    replicas = [(80, "replica 1"), (310, "replica 2"), (580, "replica N")]
    for x, name in replicas:
        d.box(x, 342, 200, 74, "replica", (name, "hatcher server run", "keeps no data of its own"))
        d.arrow([(centre, 264), (x + 100, 340)])
    d.text(545, 388, "...", 24, "title")
    d.text(centre + 12, 292, "HTTP", SMALL_SIZE, "muted halo", anchor="start")

    # Storage, behind the replicas.
    pg_x, s3_x, store_y, store_width, store_height = 70, 470, 520, 300, 100
    for index, (x, _name) in enumerate(replicas):
        d.arrow([(x + 70, 416), (pg_x + 90 + index * 60, store_y + 2)])
        d.arrow([(x + 130, 416), (s3_x + 90 + index * 60, store_y + 2)])
    d.cylinder(pg_x, store_y, store_width, store_height,
               ("PostgreSQL", "metadata, users, tokens", "advisory locks, LISTEN/NOTIFY"))
    d.cylinder(s3_x, store_y, store_width, store_height,
               ("S3 bucket", "s3://BUCKET/PREFIX", "artefact files (blobs)"))
    d.text(pg_x + 150, 484, "SQL", SMALL_SIZE, "muted halo")
    d.text(s3_x + 150, 484, "S3 API", SMALL_SIZE, "muted halo")

    # The optional presigned download: from the bucket straight to the clients.
    lane = 872
    d.arrow([(s3_x + store_width, store_y + 60), (lane, store_y + 60), (lane, 81), (802, 81)],
            css="presigned", head="presigned-arrow")
    d.text(lane + 20, 300, "optional: download straight from S3 (302 to a signed URL)", SMALL_SIZE, "muted",
           rotate=90)

    # Legend.
    d.add(f'<path d="M 60 {HEIGHT - 26} L 110 {HEIGHT - 26}" class="edge" marker-end="url(#arrow)"/>')
    d.text(120, HEIGHT - 22, "requests", SMALL_SIZE, "muted", anchor="start")
    d.add(f'<path d="M 220 {HEIGHT - 26} L 270 {HEIGHT - 26}" class="presigned" '
          'marker-end="url(#presigned-arrow)"/>')
    d.text(280, HEIGHT - 22, "with --s3-presigned-downloads: the file comes from S3, not through a replica",
           SMALL_SIZE, "muted", anchor="start")
    return d.render()


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Write the picture to ``argv[0]`` (default: ``docs/_static/topology.svg`` of this checkout)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) > 1 or any(argument.startswith("-") for argument in arguments):
        sys.exit(__doc__.split("\n\n")[1])
    output = Path(arguments[0]) if arguments else Path(__file__).resolve().parents[1] / DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(draw(), encoding="utf-8")


if __name__ == "__main__":
    main()
