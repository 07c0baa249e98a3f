"""The ``--command-tree`` formatter of the command line."""

from __future__ import annotations

from typing import Iterator

import click


def _walk(command: click.Command, ctx: click.Context, name: str, depth: int) -> Iterator[tuple[str, str]]:
    usage = ""
    if not isinstance(command, click.Group):
        usage = " ".join(command.collect_usage_pieces(ctx))
    yield "    " * depth + name, usage
    if isinstance(command, click.Group):
        for child in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, child)
            if sub is not None and not getattr(sub, "hidden", False):
                yield from _walk(sub, click.Context(sub, info_name=child, parent=ctx), child, depth + 1)


def command_tree(group: click.Group, ctx: click.Context, name: str = "hatcher") -> str:
    """One line per group and command, depth first, children sorted, 4 spaces per level.

    The name column is padded to the longest indented name, then three spaces and, for
    commands, their usage (``[OPTIONS]`` and the arguments).
    """
    rows = list(_walk(group, ctx, name, 0))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}   {usage}" for label, usage in rows)
