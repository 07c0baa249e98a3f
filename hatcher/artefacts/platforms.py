"""EPD platform names: parsing every accepted spelling into the canonical Brood hyphen name."""

from __future__ import annotations

import re

from hatcher.errors import InvalidPlatform

#: OS short names EPD has ever had (case-sensitive).
OPERATING_SYSTEMS = ("osx", "rh3", "rh5", "rh6", "rh7", "rh8", "sol", "win")

#: Canonical architectures.
X86 = "x86"
X86_64 = "x86_64"
ARM64 = "arm64"

#: Accepted architecture spellings and the canonical architecture they mean.
ARCH_ALIASES = {
    "32": X86, "x86": X86, "i386": X86, "i686": X86,
    "64": X86_64, "x86_64": X86_64, "amd64": X86_64, "AMD64": X86_64,
    "arm64": ARM64, "ARM64": ARM64, "aarch64": ARM64, "AArch64": ARM64,
    "armv8": ARM64, "armv9": ARM64,
}

#: Operating systems on which arm64 exists.
ARM64_OPERATING_SYSTEMS = ("osx", "win", "rh8")

#: Canonical Brood platform names (hyphen form), in the order of the spec's table (§0.1).
KNOWN_PLATFORMS = (
    "rh5-x86", "rh5-x86_64", "rh6-x86", "rh6-x86_64", "rh7-x86", "rh7-x86_64",
    "rh8-x86", "rh8-x86_64", "rh8-arm64", "rh3-x86", "rh3-x86_64",
    "osx-x86", "osx-x86_64", "osx-arm64",
    "win-x86", "win-x86_64", "win-arm64",
    "sol-x86", "sol-x86_64",
)

_MAX_PLATFORM_LENGTH = 32
_PLATFORM_RE = re.compile(r"(?P<os>[A-Za-z0-9]+)[-_](?P<arch>[A-Za-z0-9_]+)\Z")
_TAG_VERSION_RE = re.compile(r"(?:cp|pp|ip|jy|py)(?P<major>\d)_?(?P<minor>\d+)?\Z")


def split_platform(name: str) -> tuple[str, str]:
    """Split a platform name in any accepted spelling into its OS and canonical architecture.

    Parameters
    ----------
    name : str
        A platform such as ``rh5-64``, ``rh5_x86_64`` or ``osx-aarch64``.

    Returns
    -------
    tuple of (str, str)
        The OS short name and the canonical architecture (``x86``, ``x86_64`` or ``arm64``).

    Raises
    ------
    InvalidPlatform
        If the name is not a supported EPD platform.
    """
    if not isinstance(name, str):
        raise InvalidPlatform(f"Invalid platform {name!r}: a platform name must be a string")
    if not name or len(name) > _MAX_PLATFORM_LENGTH:
        raise InvalidPlatform(f"Invalid platform {name!r}: expected '<os>-<arch>', e.g. 'rh7-x86_64'")
    match = _PLATFORM_RE.match(name)
    if match is None:
        raise InvalidPlatform(f"Invalid platform {name!r}: expected '<os>-<arch>', e.g. 'rh7-x86_64'")
    os_name, arch_name = match.group("os"), match.group("arch")
    if os_name not in OPERATING_SYSTEMS:
        raise InvalidPlatform(
            f"Invalid platform {name!r}: unknown OS {os_name!r} "
            f"(known: {', '.join(OPERATING_SYSTEMS)})")
    arch = ARCH_ALIASES.get(arch_name)
    if arch is None:
        raise InvalidPlatform(
            f"Invalid platform {name!r}: unknown architecture {arch_name!r} (known: x86, x86_64, arm64)")
    if arch == ARM64 and os_name not in ARM64_OPERATING_SYSTEMS:
        raise InvalidPlatform(f"Invalid platform {name!r}: arm64 is supported only on osx, win and rh8")
    return os_name, arch


def normalize_platform(name: str) -> str:
    """Return the canonical Brood platform name (``<os>-<x86|x86_64|arm64>``) for any accepted spelling.

    Parameters
    ----------
    name : str
        A platform such as ``rh5_x86_64``, ``rh5-64``, ``win-32`` or ``rh8-aarch64``.

    Returns
    -------
    str
        The canonical hyphen name, e.g. ``rh5-x86_64``.

    Raises
    ------
    InvalidPlatform
        If the name is not a supported EPD platform.
    """
    os_name, arch = split_platform(name)
    return f"{os_name}-{arch}"


def underscore_platform(name: str) -> str:
    """Return the underscore form of a platform (``rh7-x86_64`` -> ``rh7_x86_64``), as okonomiyaki prints it.

    Parameters
    ----------
    name : str
        A platform in any accepted spelling.

    Returns
    -------
    str
        ``<os>_<arch>`` with the canonical architecture.
    """
    os_name, arch = split_platform(name)
    return f"{os_name}_{arch}"


def platform_os(name: str) -> str:
    """Return the OS short name of a platform (``rh7-x86_64`` -> ``rh7``)."""
    return split_platform(name)[0]


def platform_arch(name: str) -> str:
    """Return the canonical architecture of a platform (``rh5-64`` -> ``x86_64``)."""
    return split_platform(name)[1]


def _python_version_of_tag(python_tag: str | None) -> tuple[str, int, int | None] | None:
    """Return (prefix, major, minor or None) of a python tag, or None when it is absent or unparsable."""
    if not python_tag:
        return None
    match = _TAG_VERSION_RE.match(python_tag)
    if match is None:
        return None
    minor = match.group("minor")
    return python_tag[:2], int(match.group("major")), int(minor) if minor is not None else None


def _macos_release(python_tag: str | None, arch: str) -> str:
    """Return the macOS release part of a PEP 425 platform tag for a python tag."""
    parsed = _python_version_of_tag(python_tag)
    release = "10_6"
    if parsed is not None and parsed[2] is not None:
        version = (parsed[1], parsed[2])
        if version >= (3, 11):
            release = "12_0"
        elif version >= (3, 8):
            release = "10_14"
    if arch == ARM64:
        # Apple silicon needs macOS 11 or later: Enthought's arm64 builds all say 12_0.
        release = "12_0"
    return release


def platform_tag(platform: str | None, python_tag: str | None = None) -> str | None:
    """Return the PEP 425 platform tag of an EPD platform (``rh7-x86_64`` -> ``linux_x86_64``).

    Parameters
    ----------
    platform : str or None
        A platform in any accepted spelling; None means cross-platform.
    python_tag : str or None
        The python tag, which chooses the macOS release (``10_6``, ``10_14`` for 3.8 to 3.10,
        ``12_0`` for 3.11 and later, and always ``12_0`` for arm64).

    Returns
    -------
    str or None
        The tag, or None without a platform or on Solaris (which has none).
    """
    if platform is None:
        return None
    os_name, arch = split_platform(platform)
    if os_name.startswith("rh"):
        return {X86: "linux_i686", X86_64: "linux_x86_64", ARM64: "linux_aarch64"}[arch]
    if os_name == "osx":
        machine = {X86: "i386", X86_64: "x86_64", ARM64: "arm64"}[arch]
        return f"macosx_{_macos_release(python_tag, arch)}_{machine}"
    if os_name == "win":
        return {X86: "win32", X86_64: "win_amd64", ARM64: "win_arm64"}[arch]
    return None


def _msvc_for_cpython(major: int, minor: int) -> str:
    """Return the MSVC ABI that CPython major.minor was built with on Windows."""
    version = (major, minor)
    if version < (3, 3):
        return "msvc2008"
    if version < (3, 5):
        return "msvc2010"
    if version < (3, 7):
        return "msvc2015"
    if version < (3, 9):
        return "msvc2019"
    return "msvc2022"


def default_platform_abi(platform: str | None, python_tag: str | None) -> str | None:
    """Return the default platform ABI (``gnu``, ``darwin``, ``msvc20XX``) for a platform and python tag.

    Parameters
    ----------
    platform : str or None
        A platform in any accepted spelling; None means cross-platform.
    python_tag : str or None
        The python tag; None is read as CPython 2.7, as okonomiyaki does for old eggs.

    Returns
    -------
    str or None
        The ABI, or None without a platform, on Solaris, or for a generic ``py*`` or unknown tag.
    """
    if platform is None:
        return None
    os_name, arch = split_platform(platform)
    parsed = _python_version_of_tag(python_tag if python_tag is not None else "cp27")
    if parsed is None or parsed[0] not in ("cp", "pp"):
        return None
    if os_name.startswith("rh"):
        return "gnu"
    if os_name == "osx":
        return "darwin"
    if os_name != "win":
        return None
    if arch == ARM64:
        return "msvc2022"
    prefix, major, minor = parsed
    if prefix == "pp":
        return "msvc2008"
    return _msvc_for_cpython(major, minor if minor is not None else 0)
