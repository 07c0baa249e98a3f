"""Bundle controllers (API version 1): the bundles of a platform, one bundle, one bundle file."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Iterator

import attr

from hatcher.artefacts import bundle as _bundle
from hatcher.artefacts.tags import python_tag as _python_tag
from hatcher.core.base import PublicDir
from hatcher.core.download import replace_file
from hatcher.errors import InvalidBundle, TargetFileExists

_ENTRY_KEYS = ("python_tag", "name", "full_version")


def _bundle_identity(filepath: str, runtime: dict[str, Any] | None) -> tuple[dict[str, Any], str, str, str]:
    """``(runtime, python_tag, name, "<version>-<build>")`` of a bundle file."""
    if runtime is None:
        runtime = _bundle.read_bundle_runtime(filepath)
    try:
        tag = _python_tag(runtime["implementation"], runtime["version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidBundle(f"{os.path.basename(filepath)}: invalid bundle runtime: {exc}") from exc
    name, version, build = _bundle.split_bundle_name(filepath)
    return runtime, tag, name, f"{version}-{build}"


def _walk_entries(node: Any) -> Iterator[dict[str, Any]]:
    """Depth-first, every dict holding all of python_tag, name and full_version."""
    if not isinstance(node, dict):
        return
    if all(key in node for key in _ENTRY_KEYS):
        yield node
        return
    for value in node.values():
        if isinstance(value, dict):
            yield from _walk_entries(value)
        else:
            raise InvalidBundle(f"Bundle index entry lacks one of {', '.join(_ENTRY_KEYS)}: {node!r}")


@attr.s(frozen=True, repr=False, eq=False)
class BundleCollectionController(PublicDir):
    """The bundles of one platform (a v1 :class:`SinglePlatformRepository`). No request on creation.

    Parameters
    ----------
    platform : SinglePlatformRepository
        The platform the bundles live on.
    url_template : UrlBuilder
        The API version 1 URL tree.
    """

    platform: Any = attr.ib()
    url_template: Any = attr.ib()

    @property
    def url_handler(self) -> Any:
        """The platform's transport."""
        return self.platform._url_handler

    @property
    def urls(self) -> dict[str, Any]:
        """The templates of the ``index``, ``metadata`` and ``upload`` operations."""
        return {"index": self.url_template.indices.bundles,
                "metadata": self.url_template.metadata.artefacts.bundles,
                "upload": self.url_template.data.bundles.upload}

    def __repr__(self) -> str:
        p = self.platform
        return (f"<BundleCollectionController organization={p.organization_name} "
                f"repository={p.repository_name} platform={p.name}>")

    def __str__(self) -> str:
        return f"{self.platform}/bundles"

    def path(self, operation: str, **kwargs: Any) -> str:
        """Fill the template of ``operation`` (``index``, ``metadata`` or ``upload``)."""
        return self.platform._path(self.urls[operation], **kwargs)

    @property
    def index_path(self) -> str:
        """The path of the bundle index."""
        return self.path("index")

    def index(self) -> dict[str, Any]:
        """The raw bundle index ``{python_tag: {name: {version: {build: entry}}}}``."""
        return self.url_handler.get_json(self.index_path)

    def list(self) -> list[dict[str, str]]:
        """``[{"python_tag", "name", "version"}]`` for every bundle, in index order.

        Raises
        ------
        InvalidBundle
            An index entry lacks ``python_tag``, ``name`` or ``full_version``.
        """
        return [{"python_tag": e["python_tag"], "name": e["name"], "version": e["full_version"]}
                for e in _walk_entries(self.index())]

    def __iter__(self) -> Iterator[BundleResourceController]:
        for entry in self.list():
            yield self.get(entry["python_tag"], entry["name"], entry["version"])

    def get(self, python_tag: str, name: str, version: str) -> BundleResourceController:
        """One bundle of this platform (no request)."""
        return BundleResourceController(self, python_tag, name, version)

    def delete(self, python_tag: str, name: str, version: str) -> None:
        """Delete one bundle."""
        self.get(python_tag, name, version).delete()

    def from_file(self, filepath: str, runtime: dict[str, Any] | None = None) -> BundleResourceFileController:
        """A local bundle file bound to this platform (no request)."""
        _, tag, name, version = _bundle_identity(filepath, runtime)
        return BundleResourceFileController(self.get(tag, name, version), filepath)


@attr.s(frozen=True, repr=False, eq=False)
class BundleResourceController(PublicDir):
    """One bundle: ``python_tag``, ``name`` and full ``version`` (``<version>-<build>``)."""

    BUNDLE_EXTENSION = _bundle.BUNDLE_EXTENSION
    BUNDLE_RE = _bundle.BUNDLE_RE

    collection: BundleCollectionController = attr.ib()
    python_tag: str = attr.ib()
    name: str = attr.ib()
    version: str = attr.ib()

    @property
    def url_handler(self) -> Any:
        """The platform's transport."""
        return self.collection.url_handler

    def _identity(self) -> tuple[str, ...]:
        p = self.collection.platform
        return (self.python_tag, self.name, self.version, p.organization_name, p.repository_name, p.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BundleResourceController) and other._identity() == self._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        p = self.collection.platform
        return (f"<BundleResourceController organization={p.organization_name} "
                f"repository={p.repository_name} platform={p.name} python_tag={self.python_tag} "
                f"name={self.name} version={self.version}>")

    def __str__(self) -> str:
        return f"{self.collection}/{self.python_tag}/{self.name}/{self.version}"

    @property
    def canonical_filename(self) -> str:
        """``<name>-<version>.bundle``."""
        return f"{self.name}-{self.version}.{self.BUNDLE_EXTENSION}"

    @property
    def lazy_dict(self) -> dict[str, str]:
        """``{"python_tag", "name", "version"}``."""
        return {"python_tag": self.python_tag, "name": self.name, "version": self.version}

    @property
    def metadata_path(self) -> str:
        """The path of the bundle's metadata (also used to delete it)."""
        return self.collection.path("metadata", **self.lazy_dict)

    @property
    def upload_path(self) -> str:
        """The path bundles are uploaded to (no platform in it)."""
        return self.collection.path("upload")

    def metadata(self) -> dict[str, Any]:
        """The bundle's metadata, with the bundle document under ``data``."""
        return self.url_handler.get_json(self.metadata_path)

    def save(self, directory: str, overwrite: bool = False) -> str:
        """Write the bundle document to ``directory/<canonical_filename>``; return the path.

        The file is written as indented JSON with sorted keys, atomically.

        Raises
        ------
        TargetFileExists
            The file exists and ``overwrite`` is false (checked before any request).
        """
        target = os.path.join(directory, self.canonical_filename)
        if os.path.exists(target) and not overwrite:
            raise TargetFileExists(target)
        document = self.metadata()["data"]
        fd, partial = tempfile.mkstemp(prefix=self.canonical_filename + ".", suffix=".partial", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fp:
                json.dump(document, fp, indent=2, sort_keys=True)
            replace_file(partial, target)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return target

    def delete(self) -> None:
        """Delete the bundle."""
        self.url_handler.delete(self.metadata_path)


@attr.s(frozen=True, repr=False, eq=False)
class BundleResourceFileController(PublicDir):
    """A local bundle file, ready to upload as ``bundle``; other attributes come from ``bundle``."""

    bundle: BundleResourceController = attr.ib()
    filepath: str = attr.ib()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("bundle", "filepath"):
            raise AttributeError(name)
        return getattr(self.bundle, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self.bundle)))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BundleResourceFileController)
                and other.filepath == self.filepath and other.bundle == self.bundle)

    def __hash__(self) -> int:
        return hash((self.filepath, self.bundle))

    def __repr__(self) -> str:
        return f"<BundleResourceFileController bundle={self.bundle!r} filepath={self.filepath}>"

    def upload(self, overwrite: bool = False) -> None:
        """Upload the file (``data``: sha256, bundle_name, bundle_version, bundle_build).

        The sha256 is computed while the file streams out.
        """
        upstream, _, build = self.bundle.version.rpartition("-")
        data = {"sha256": None, "bundle_name": self.bundle.name,
                "bundle_version": upstream, "bundle_build": int(build)}
        self.bundle.url_handler.upload(self.bundle.upload_path, data, self.filepath, overwrite=overwrite)


@attr.s(frozen=True)
class BundleControllerFactory:
    """Bundle controllers of a v1 repository, placed on the platform their runtime names."""

    repository: Any = attr.ib()
    url_template: Any = attr.ib()

    def from_file(self, filepath: str) -> BundleResourceFileController:
        """A local bundle file, on the platform of its runtime (no request).

        Raises
        ------
        InvalidBundle
            The file is unreadable, is not JSON, lacks ``runtime`` or is badly named.
        """
        runtime = _bundle.read_bundle_runtime(filepath)
        if "platform" not in runtime:
            raise InvalidBundle(f"{os.path.basename(filepath)}: the bundle runtime has no platform")
        return self.repository.platform(runtime["platform"]).bundles.from_file(filepath, runtime)

    def from_runtime_dict(self, runtime: dict[str, Any], name: str, version: str) -> BundleResourceController:
        """The bundle ``name``/``version`` for ``runtime`` (no I/O)."""
        tag = _python_tag(runtime["implementation"], runtime["version"])
        return self.repository.platform(runtime["platform"]).bundles.get(tag, name, version)
