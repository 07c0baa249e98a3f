"""Deterministic writers of test artefacts (eggs, runtimes, apps, bundles): same input, same sha256."""

from __future__ import annotations

import hashlib
import json
import os
import random
import zipfile
from typing import Any, Iterable, Mapping

from hatcher.artefacts.platforms import (
    default_platform_abi,
    split_platform,
    underscore_platform,
)
from hatcher.artefacts.platforms import (
    platform_tag as pep425_platform_tag,
)
from hatcher.artefacts.spec_depend import METADATA_KEYS
from hatcher.artefacts.tags import parse_python_tag
from hatcher.artefacts.tags import python_tag as compute_python_tag


class _Omit:
    """The type of :data:`OMIT`."""

    def __repr__(self) -> str:
        return "OMIT"


#: Pass as a value in ``spec_overrides``, ``metadata_overrides``, ``extra`` or ``extra_members``
#: to leave that key (or archive member) out.
OMIT: Any = _Omit()

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_PERMISSIONS = 0o644 << 16
_CHUNK_SIZE = 1024 * 1024
_SPEC_ARCH = {"x86": "x86", "x86_64": "amd64", "arm64": "arm64"}
_SPEC_OS = {"osx": "darwin", "win": "win32", "sol": "sunos5"}

Members = Mapping[str, Any]


def _zip_info(name: str, compress_type: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """Return a ZipInfo with the fixed date, permissions, creator system and compression."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.external_attr = FILE_PERMISSIONS
    info.create_system = 3
    info.compress_type = compress_type
    return info


def _as_bytes(data: bytes | str) -> bytes:
    """Return ``data`` as bytes (text is UTF-8 encoded)."""
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _merge_members(members: list[tuple[str, bytes]], extra: Members | None) -> list[tuple[str, bytes]]:
    """Apply ``extra`` to the default members: replace same names in place, drop OMIT/None, append new ones."""
    extra = dict(extra or {})
    merged = []
    for name, data in members:
        if name in extra:
            data = extra.pop(name)
        if data is not OMIT and data is not None:
            merged.append((name, _as_bytes(data)))
    merged.extend((name, _as_bytes(data)) for name, data in extra.items() if data is not OMIT and data is not None)
    return merged


def _write_zip(path: str, members: Iterable[tuple[str, bytes]], payload: tuple[str, int, str] | None = None) -> str:
    """Write a deterministic zip; ``payload`` = (member name, size, seed) streams pseudo-random bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(_zip_info(name), data)
        if payload is not None:
            name, size, seed = payload
            info = _zip_info(name, zipfile.ZIP_STORED)
            info.file_size = size
            generator = random.Random(seed)
            with archive.open(info, "w", force_zip64=size >= 2 ** 31) as stream:
                remaining = size
                while remaining > 0:
                    chunk = min(remaining, _CHUNK_SIZE)
                    stream.write(generator.randbytes(chunk))
                    remaining -= chunk
    return path


def _apply_overrides(values: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``values`` updated by ``overrides``, where OMIT removes a key."""
    result = dict(values)
    for key, value in (overrides or {}).items():
        if value is OMIT:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def egg_spec_values(name: str = "dummy", version: str = "1.0.1", build: int = 1,
                    platform: str | None = "rh5-x86_64", python_tag: str | None = "cp27",
                    packages: Iterable[str] = (), metadata_version: str = "1.4",
                    spec_overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the spec/depend assignments of a test egg, in file order (table of §6.1).

    Parameters
    ----------
    name, version, build : raw name, upstream version and build number
    platform : str or None
        A Brood platform; None gives a cross-platform egg (arch, platform, osdist None).
    python_tag : str or None
        The python tag; None gives an egg without Python.
    packages : iterable of str
        Requirement strings.
    metadata_version : str
        Chooses the key set (``1.1`` to ``1.4``; other versions get the 1.4 keys).
    spec_overrides : mapping, optional
        Values to replace or add; :data:`OMIT` removes a key.

    Returns
    -------
    dict
    """
    arch = spec_platform = osdist = None
    if platform is not None:
        os_name, canonical_arch = split_platform(platform)
        arch = _SPEC_ARCH[canonical_arch]
        spec_platform = "linux2" if os_name.startswith("rh") else _SPEC_OS[os_name]
        osdist = f"RedHat_{os_name[2:]}" if os_name.startswith("rh") else None
    python = abi_tag = None
    if python_tag is not None:
        prefix, major, minor = parse_python_tag(python_tag)
        if minor is not None:
            python = f"{major}.{minor}"
            if prefix == "cp" and platform is not None:
                abi_tag = f"cp{major}{minor}" if (major, minor) >= (3, 8) else f"cp{major}{minor}m"
    values = {
        "metadata_version": metadata_version, "name": name, "version": version, "build": build,
        "arch": arch, "platform": spec_platform, "osdist": osdist, "python": python,
        "python_tag": python_tag, "abi_tag": abi_tag,
        "platform_tag": pep425_platform_tag(platform, python_tag),
        "platform_abi": default_platform_abi(platform, python_tag),
        "packages": list(packages),
    }
    keys = METADATA_KEYS.get(metadata_version, METADATA_KEYS["1.4"])
    values = {key: value for key, value in values.items() if key in keys}
    return _apply_overrides(values, spec_overrides)


def spec_depend_text(values: Mapping[str, Any]) -> str:
    """Render spec/depend assignments in Enthought's layout (``key = repr(value)``, packages one per line)."""
    lines = []
    for key, value in values.items():
        if key == "packages" and isinstance(value, (list, tuple)):
            lines.append("packages = [")
            lines.extend(f"  {item!r}," for item in value)
            lines.append("]")
        else:
            lines.append(f"{key} = {value!r}")
    return "\n".join(lines) + "\n"


def build_egg(dest_dir: str, name: str = "dummy", version: str = "1.0.1", build: int = 1,
              platform: str | None = "rh5-x86_64", python_tag: str | None = "cp27",
              packages: Iterable[str] = (), metadata_version: str = "1.4", summary: str = "Dummy package",
              extra_members: Members | None = None, filename: str | None = None,
              spec_overrides: Mapping[str, Any] | None = None, payload_size: int = 0) -> str:
    """Write a valid (unless told otherwise) Enthought egg and return its path.

    Members, in order: ``EGG-INFO/spec/depend``, ``EGG-INFO/spec/summary``, ``EGG-INFO/PKG-INFO``,
    then ``extra_members`` (a same-named entry replaces a default member; None or OMIT drops it),
    then, when ``payload_size`` > 0, ``<name>/payload.bin``: that many pseudo-random bytes,
    streamed uncompressed in 1 MiB chunks.

    Parameters
    ----------
    dest_dir : str
        Directory to write into.
    name, version, build, platform, python_tag, packages, metadata_version, spec_overrides :
        See :func:`egg_spec_values`.
    summary : str
        Text of ``EGG-INFO/spec/summary``.
    extra_members : mapping of str to bytes or str, optional
    filename : str, optional
        Base name of the file; defaults to ``<name>-<version>-<build>.egg``.
    payload_size : int
        Size in bytes of the pseudo-random payload member.

    Returns
    -------
    str
        The path of the egg.
    """
    values = egg_spec_values(name, version, build, platform, python_tag, packages, metadata_version, spec_overrides)
    pkg_info = f"Metadata-Version: 1.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
    members = _merge_members([
        ("EGG-INFO/spec/depend", spec_depend_text(values).encode("utf-8")),
        ("EGG-INFO/spec/summary", _as_bytes(summary)),
        ("EGG-INFO/PKG-INFO", pkg_info.encode("utf-8")),
    ], extra_members)
    path = os.path.join(dest_dir, filename or f"{name}-{version}-{build}.egg")
    payload = (f"{name.lower()}/payload.bin", payload_size, f"{name}-{version}-{build}") if payload_size > 0 else None
    return _write_zip(path, members, payload)


def runtime_v1_metadata(implementation: str = "cpython", version: str = "3.8.8+1", platform: str = "rh7-x86_64",
                        abi: str = "gnu", language_version: str | None = None, python_tag: str | None = None,
                        build_revision: str = "", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a complete ``enthought/runtime.json`` document (§2.2) for a test runtime.

    The platform is written in underscore form, as Enthought's runtimes have it. ``language_version``
    defaults to the version without its build (``2.7.9`` for PyPy); ``python_tag`` is derived from it.
    ``overrides`` replaces or adds keys, and :data:`OMIT` removes one.
    """
    windows = split_platform(platform)[0] == "win"
    if language_version is None:
        language_version = "2.7.9" if implementation == "pypy" else version.split("+")[0]
    prefix = "${prefix}"
    if implementation == "julia":
        executable, paths = (fr"{prefix}\bin\julia.exe", [fr"{prefix}\bin"]) if windows else (
            f"{prefix}/bin/julia", [f"{prefix}/bin"])
    elif windows:
        executable = fr"{prefix}\{'pypy' if implementation == 'pypy' else 'python'}.exe"
        paths = [prefix, fr"{prefix}\Scripts"]
    else:
        executable = f"{prefix}/bin/{'pypy' if implementation == 'pypy' else 'python'}"
        paths = [f"{prefix}/bin"]
    metadata: dict[str, Any] = {
        "metadata_version": "1.0", "implementation": implementation, "version": version,
        "language_version": language_version, "platform": underscore_platform(platform), "abi": abi,
        "build_revision": build_revision, "executable": executable, "paths": paths, "post_install": [],
    }
    if implementation != "julia":
        major_minor = ".".join(language_version.split(".")[:2])
        if python_tag is None:
            python_tag = compute_python_tag("cpython", language_version)
            python_tag = python_tag.replace("cp", "pp", 1) if implementation == "pypy" else python_tag
        metadata["scriptsdir"] = fr"{prefix}\Scripts" if windows else f"{prefix}/bin"
        metadata["site_packages"] = (fr"{prefix}\Lib\site-packages" if windows
                                     else f"{prefix}/lib/python{major_minor}/site-packages")
        metadata["python_tag"] = python_tag
    return _apply_overrides(metadata, overrides)


#: The default runtime.json (CPython 3.8.8+1 on rh7-x86_64). Copy it before changing it.
RUNTIME_V1_METADATA_TEMPLATE = runtime_v1_metadata()


def build_runtime_v1(dest_dir: str, implementation: str = "cpython", version: str = "3.8.8+1",
                     platform: str = "rh7-x86_64", abi: str = "gnu",
                     metadata_overrides: Mapping[str, Any] | None = None,
                     extra_members: Members | None = None, filename: str | None = None) -> str:
    """Write a v1 runtime archive holding ``enthought/runtime.json`` (plus ``extra_members``); return its path.

    The file is named ``<implementation>-<version>-<underscore platform>-<abi>.runtime`` unless
    ``filename`` is given. A same-named entry of ``extra_members`` replaces ``enthought/runtime.json``.
    """
    metadata = runtime_v1_metadata(implementation, version, platform, abi, overrides=metadata_overrides)
    document = json.dumps(metadata, indent=2, sort_keys=True).encode("utf-8")
    members = _merge_members([("enthought/runtime.json", document)], extra_members)
    name = filename or f"{implementation}-{version}-{underscore_platform(platform)}-{abi}.runtime"
    return _write_zip(os.path.join(dest_dir, name), members)


def build_runtime_v0(dest_dir: str, language: str = "python", version: str = "2.7.3",
                     build_system_version: str = "2.0.0.dev1-abc1234", platform: str = "rh5-64",
                     build: int = 1, file_format: str = "zip") -> str:
    """Write a v0 runtime (a tiny zip, or a text file for other formats) and return its path.

    The name is ``<language>_runtime_<version>_<build_system_version>_<platform>_<build>.<file_format>``.
    """
    name = f"{language}_runtime_{version}_{build_system_version}_{platform}_{build}.{file_format}"
    path = os.path.join(dest_dir, name)
    if file_format == "zip":
        return _write_zip(path, [(f"{language}/VERSION", f"{version}\n".encode())])
    with open(path, "wb") as stream:
        stream.write(f"{language}\n".encode())
    return path


def _yaml_value(value: Any) -> str:
    """Render a value as YAML: JSON scalars and flow collections are valid YAML (strings double-quoted)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def build_app(dest_dir: str, id: str = "mayavi.demo", name: str = "Mayavi demo", platform: Any = "rh7-x86_64",
              version: Any = "4.6.0", build: Any = 1, python_tag: Any = "cp38",
              extra: Mapping[str, Any] | None = None, filename: str | None = None) -> str:
    """Write an app description YAML file (by hand, without PyYAML) and return its path.

    Strings are quoted; a non-string ``version`` (e.g. ``1.0``) is written unquoted, which YAML
    reads as a number. Any value may be :data:`OMIT` to leave the key out; None writes ``null``.
    ``extra`` adds keys after the six standard ones. The default name is ``<id>-<version>-<build>.yaml``.
    """
    values = {"id": id, "name": name, "platform": platform, "version": version, "build": build,
              "python_tag": python_tag}
    values = _apply_overrides(values, extra)
    lines = [f"{key}: {_yaml_value(value)}" for key, value in values.items() if value is not OMIT]
    default_name = "-".join(str(part) for part in (id, version, build) if part is not OMIT) + ".yaml"
    path = os.path.join(dest_dir, filename or default_name)
    with open(path, "wb") as stream:
        stream.write(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _requirement_entry(requirement: str | Mapping[str, Any]) -> dict[str, Any]:
    """Return a bundle requirement dict for a dict (kept) or a ``"name full_version"`` string."""
    if isinstance(requirement, Mapping):
        return dict(requirement)
    name, full_version = requirement.split()
    digest = hashlib.sha256(requirement.encode("utf-8")).hexdigest()
    return {"name": name, "version": full_version, "repository": "enthought/free", "sha256": digest}


def build_bundle(dest_dir: str, name: str = "mini", version: str = "1.0", build: int = 1,
                 runtime: Mapping[str, Any] | None = None,
                 requirements: Iterable[str | Mapping[str, Any]] = (),
                 extra: Mapping[str, Any] | None = None, filename: str | None = None) -> str:
    """Write a bundle JSON file (metadata_version 2.0, §4) and return its path.

    ``runtime`` defaults to CPython 3.8.8+1 on rh7-x86_64. ``requirements`` are dicts (kept as given)
    or ``"name upstream-build"`` strings. ``extra`` replaces or adds top-level keys; :data:`OMIT`
    removes one (e.g. ``extra={"runtime": OMIT}``). The default name is ``<name>-<version>-<build>.bundle``.
    """
    if runtime is None:
        runtime = {"implementation": "cpython", "version": "3.8.8+1", "platform": "rh7-x86_64"}
    entries = [_requirement_entry(requirement) for requirement in requirements]
    document = {
        "metadata_version": "2.0",
        "runtime": dict(runtime),
        "repositories": {"packages": ["enthought/free"], "runtimes": ["enthought/free"]},
        "requirements": entries,
        "mark": [{"name": entry["name"], "state": "manual"} for entry in entries],
        "modifiers": {"allow_newer": [], "allow_any": [], "allow_older": []},
    }
    document = _apply_overrides(document, extra)
    path = os.path.join(dest_dir, filename or f"{name}-{version}-{build}.bundle")
    with open(path, "wb") as stream:
        stream.write(json.dumps(document, indent=2, sort_keys=True).encode("utf-8"))
    return path
