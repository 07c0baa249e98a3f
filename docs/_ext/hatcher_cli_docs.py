"""Sphinx directive ``hatcher-json-schemas``: the "JSON:" paragraph of every command, in one list.

Each command documents the document its ``--json`` option prints in a paragraph of its
docstring that starts with ``JSON:``; this directive collects them from the click tree
(both API versions) so that the reference page has them in one place.
"""

from __future__ import annotations

import inspect
from typing import Iterator

import click
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def walk(command: click.Command, ctx: click.Context, path: str) -> Iterator[tuple[str, click.Command]]:
    """``(command path, command)`` of every command below ``command``, depth first, sorted."""
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, click.Context(sub, info_name=name, parent=ctx), f"{path} {name}".strip())
    else:
        yield path, command


def json_paragraph(command: click.Command) -> str | None:
    """The paragraph of the command's help that starts with ``JSON:``, without that word."""
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        if paragraph.startswith("JSON:"):
            return paragraph[len("JSON:"):].strip()
    return None


def json_schemas() -> dict[str, str]:
    """``{command path: JSON paragraph}`` over API versions 1 and 0 (version 1 first)."""
    from hatcher.cli.context import GlobalOptions
    from hatcher.cli.main import hatcher

    found: dict[str, str] = {}
    for version in (1, 0):
        root = click.Context(hatcher, info_name="hatcher", obj=GlobalOptions(api_version=version))
        for path, command in walk(hatcher, root, ""):
            paragraph = json_paragraph(command)
            if paragraph is not None:
                key = path if path not in found or found[path] == paragraph else f"{path} (API version 0)"
                found.setdefault(key, paragraph)
    return found


class JsonSchemas(SphinxDirective):
    """Render :func:`json_schemas` as a definition list."""

    def run(self) -> list[nodes.Node]:
        lines = []
        for path, paragraph in sorted(json_schemas().items()):
            lines.append(f"``hatcher {path} --json``")
            lines.extend("   " + line for line in paragraph.splitlines())
            lines.append("")
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="hatcher-json-schemas"), self.content_offset, container)
        return container.children


def setup(app: object) -> dict[str, object]:
    app.add_directive("hatcher-json-schemas", JsonSchemas)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True, "parallel_write_safe": True}
