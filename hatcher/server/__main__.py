"""``python -m hatcher.server ...``: the same as ``hatcher server ...``."""

from hatcher.cli.server import server_group


def main() -> None:
    """Run the ``hatcher server`` group with this process's arguments."""
    server_group.main(prog_name="hatcher server", auto_envvar_prefix="HATCHER_SERVER")


if __name__ == "__main__":  # pragma: no branch
    main()
