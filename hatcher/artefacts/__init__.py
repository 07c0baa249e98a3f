"""Readers (and test writers) of Brood artefacts: eggs, runtimes, apps and bundles; standard library plus attrs."""

from __future__ import annotations

from hatcher.artefacts.app import AppInfo, platform_only
from hatcher.artefacts.bundle import BundleInfo, read_bundle_runtime, split_bundle_name
from hatcher.artefacts.egg import EggInfo, is_egg_name_valid, parse_spec_depend, split_egg_name
from hatcher.artefacts.platforms import KNOWN_PLATFORMS, normalize_platform, underscore_platform
from hatcher.artefacts.runtime import RuntimeV0Info, RuntimeV1Info
from hatcher.artefacts.tags import python_tag, python_tag_name
from hatcher.artefacts.versions import EnpkgVersion, RuntimeVersion, pep440_sort_key

__all__ = [
    "AppInfo", "BundleInfo", "EggInfo", "EnpkgVersion", "KNOWN_PLATFORMS", "RuntimeV0Info", "RuntimeV1Info",
    "RuntimeVersion", "is_egg_name_valid", "normalize_platform", "parse_spec_depend", "pep440_sort_key",
    "platform_only", "python_tag", "python_tag_name", "read_bundle_runtime", "split_bundle_name",
    "split_egg_name", "underscore_platform",
]
