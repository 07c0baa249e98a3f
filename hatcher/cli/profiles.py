"""Named profiles in a TOML configuration file: reading, validating, choosing and writing them.

The file is ``$HATCHER_CONFIG``, else ``$XDG_CONFIG_HOME/hatcher/config.toml`` (``~/.config``
when unset; ``%APPDATA%`` on Windows)::

    default = "work"                 # the profile used when none is chosen (else one named "default")

    [profiles.work]
    url = "https://packages.example.com"
    username = "alice@example.com"
    api_version = 1
    verify = "/etc/ssl/company-ca.pem"   # true (default), false, or a CA bundle
    token_name = "hatcher-login-laptop-20261203T113000"
    keyring = true                       # the token is in the system keyring

Files written by hatcher have mode 0600 (their directory 0700).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

import attr
import click

from hatcher.cli.errors import EXIT_USAGE, CommandFailed

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - older Pythons
    import tomli as tomllib

#: The environment variable naming the configuration file.
CONFIG_ENV = "HATCHER_CONFIG"
#: The profile used when none is chosen and the file has no top-level ``default`` key.
DEFAULT_PROFILE = "default"

_TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,), "username": (str,), "token": (str,), "token_name": (str,), "keyring": (bool,),
    "api_version": (int,), "verify": (bool, str),
}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


class ConfigError(CommandFailed):
    """The configuration file cannot be used (exit status 1, one line naming the file)."""


class UnknownProfile(CommandFailed):
    """The chosen profile is not in the configuration file (a usage error: exit status 2)."""

    exit_code = EXIT_USAGE


@attr.s(frozen=True)
class Profile:
    """One ``[profiles.NAME]`` table. The token never shows in the repr."""

    name: str = attr.ib()
    url: Optional[str] = attr.ib(default=None)
    username: Optional[str] = attr.ib(default=None)
    token: Optional[str] = attr.ib(default=None, repr=False)
    token_name: Optional[str] = attr.ib(default=None)
    keyring: bool = attr.ib(default=False)
    api_version: Optional[int] = attr.ib(default=None)
    verify: Union[bool, str, None] = attr.ib(default=None)

    def as_table(self) -> dict[str, Any]:
        """The keys to write (unset ones left out), in a fixed order."""
        table = {key: getattr(self, key) for key in _TYPES if getattr(self, key) is not None}
        if not self.keyring:
            del table["keyring"]
        return table


@attr.s
class Config:
    """The configuration file: its path, its ``default`` key and its profiles (empty when missing)."""

    path: Path = attr.ib()
    default: Optional[str] = attr.ib(default=None)
    profiles: dict[str, Profile] = attr.ib(factory=dict)
    exists: bool = attr.ib(default=False)

    def default_name(self) -> Optional[str]:
        """The profile used when none is chosen: the ``default`` key, else a profile named ``default``."""
        if self.default is not None:
            return self.default
        return DEFAULT_PROFILE if DEFAULT_PROFILE in self.profiles else None

    def select(self, name: Optional[str]) -> Optional[Profile]:
        """The profile ``name`` (an :class:`UnknownProfile` error if absent), or the default one, or None."""
        if name is None:
            name = self.default_name()
            if name is None:
                return None
            if name not in self.profiles:
                raise ConfigError(f"Invalid configuration file {self.path}: default profile '{name}' is not defined")
        if name not in self.profiles:
            if not self.exists:
                raise UnknownProfile(f"No profile '{name}': {self.path} does not exist")
            known = ", ".join(sorted(self.profiles)) or "none"
            raise UnknownProfile(f"No profile '{name}' in {self.path} (profiles: {known})")
        return self.profiles[name]


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/hatcher/config.toml`` (``~/.config`` when unset; ``%APPDATA%`` on Windows)."""
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "hatcher" / "config.toml"
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "hatcher" / "config.toml"


def config_path() -> Path:
    """The configuration file in effect: ``$HATCHER_CONFIG`` or :func:`default_config_path`."""
    value = os.environ.get(CONFIG_ENV)
    return Path(os.path.expanduser(value)) if value else default_config_path()


def _profile(path: Path, name: str, table: Any) -> Profile:
    where = f"Invalid configuration file {path}: profile '{name}'"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} is not a table")
    for key, value in table.items():
        if key == "password":
            raise ConfigError(f"{where}: passwords are not read from the configuration file "
                              f"(store a token with 'hatcher login')")
        if key not in _TYPES:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(_TYPES)})")
        types = _TYPES[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            wanted = " or ".join({str: "a string", bool: "true or false", int: "an integer"}[t] for t in types)
            raise ConfigError(f"{where}: '{key}' must be {wanted}")
    if table.get("api_version") not in (None, 0, 1):
        raise ConfigError(f"{where}: 'api_version' must be 0 or 1")
    return Profile(name=name, **table)


def load_config(path: Optional[Path] = None) -> Config:
    """Read and validate the configuration file (an empty :class:`Config` when it does not exist).

    Raises
    ------
    ConfigError
        The file cannot be read, is not valid TOML, or has unknown keys or values of the wrong type.
    """
    path = config_path() if path is None else path
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        return Config(path=path)
    except OSError as exc:
        raise ConfigError(f"Cannot read configuration file {path}: {exc.strerror or type(exc).__name__}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Invalid configuration file {path}: {exc}") from None
    unknown = sorted(set(data) - {"default", "profiles"})
    if unknown:
        raise ConfigError(f"Invalid configuration file {path}: unknown key '{unknown[0]}' "
                          f"(known: default, profiles)")
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"Invalid configuration file {path}: 'default' must be a profile name")
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"Invalid configuration file {path}: 'profiles' must hold [profiles.NAME] tables")
    config = Config(path=path, default=default, exists=True,
                    profiles={name: _profile(path, name, table) for name, table in tables.items()})
    if any(profile.token for profile in config.profiles.values()):
        _warn_if_readable(path)
    return config


def _warn_if_readable(path: Path) -> None:
    if os.name != "posix":
        return
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        click.secho(f"Warning: {path} holds a token and can be read by others (mode {mode:04o}): "
                    f"run 'chmod 600 {path}'", err=True, fg="yellow")


# -- writing ----------------------------------------------------------------------------------------

def _toml_string(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _toml_string(value)


def dumps(config: Config) -> str:
    """The TOML text of ``config`` (comments of the file it was read from are not kept)."""
    lines = ["# hatcher profiles: see 'Profiles and credentials' in the hatcher documentation."]
    if config.default is not None:
        lines.append(f"default = {_toml_string(config.default)}")
    for name in sorted(config.profiles):
        lines += ["", f"[profiles.{_toml_key(name)}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in config.profiles[name].as_table().items()]
    return "\n".join(lines) + "\n"


def save_config(config: Config) -> None:
    """Write ``config`` to its path atomically, with mode 0600 (the directory created with 0700)."""
    path = config.path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    try:
        os.chmod(temporary, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(dumps(config))
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    config.exists = True
