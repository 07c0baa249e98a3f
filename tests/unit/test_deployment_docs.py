"""The files the deployment guide shows are the tested ones: the nginx configuration, the systemd unit's flags."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner
from stack.nginx import render_config

from hatcher.cli.main import hatcher
from hatcher.cli.server import run_command

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment"
#: The servers and address of the documented nginx configuration.
UPSTREAMS = ["10.0.0.11:8000", "10.0.0.12:8000", "10.0.0.13:8000"]
LISTEN = "80"
REGENERATE = ("PYTHONPATH=tests python -m stack nginx-config --listen 80 10.0.0.11:8000 10.0.0.12:8000 "
              "10.0.0.13:8000 > docs/deployment/nginx.conf")


def exec_start() -> list[str]:
    """The words of the unit's ``ExecStart=`` (continuation lines joined)."""
    text = (DEPLOYMENT / "hatcher-replica.service").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1
    return shlex.split(lines[0][len("ExecStart="):])


def test_the_documented_nginx_configuration_is_the_one_the_test_stack_runs() -> None:
    documented = (DEPLOYMENT / "nginx.conf").read_text(encoding="utf-8")
    assert documented == render_config(UPSTREAMS, LISTEN), f"docs/deployment/nginx.conf is out of date: {REGENERATE}"


def test_every_flag_of_the_systemd_unit_is_an_option_of_server_run() -> None:
    words = exec_start()
    assert words[0].endswith("/hatcher") and words[1:3] == ["server", "run"]
    result = CliRunner().invoke(hatcher, ["server", "run", "--help"], prog_name="hatcher")
    assert result.exit_code == 0, result.output
    options = set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", result.output))
    flags = [word.split("=", 1)[0] for word in words[3:] if word.startswith("--")]
    assert flags, "ExecStart names no option"
    assert [flag for flag in flags if flag not in options] == []


def test_the_arguments_of_the_systemd_unit_parse() -> None:
    """Values too: ``server run`` accepts the unit's arguments as they are (nothing is started)."""
    context = run_command.make_context("run", exec_start()[3:])
    assert context.params["host"] == "0.0.0.0"
    assert context.params["blob_store"].startswith("s3://")
    assert context.params["database_url"].startswith("postgresql+psycopg://")
