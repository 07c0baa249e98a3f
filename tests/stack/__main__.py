"""``python -m stack nginx-config UPSTREAM...``: print the nginx configuration of :func:`stack.nginx.render_config`."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from .nginx import render_config


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Parse the command line and print the configuration."""
    parser = argparse.ArgumentParser(prog="python -m stack", description="Helpers of the test stack.")
    commands = parser.add_subparsers(dest="command", required=True)
    nginx = commands.add_parser("nginx-config", help="print an nginx.conf balancing over hatcher servers")
    nginx.add_argument("upstreams", nargs="+", metavar="UPSTREAM", help="a hatcher server, HOST:PORT")
    nginx.add_argument("--listen", default="127.0.0.1:8080", help="where nginx listens (default: %(default)s)")
    nginx.add_argument("--directory", help="keep the logs, PID file and temporary files in this directory")
    nginx.add_argument("--workers", default="auto", help="worker_processes (default: %(default)s)")
    arguments = parser.parse_args(argv)
    print(render_config(arguments.upstreams, arguments.listen, workers=arguments.workers,
                        directory=arguments.directory), end="")


if __name__ == "__main__":
    main()
