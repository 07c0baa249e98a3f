"""Repository and SinglePlatformRepository: lazy handles on a repository and one of its platforms.

The API versions differ only in runtimes and bundles: the ``...V1`` subclasses hold
those differences, and carry the same public class names in their reprs.
"""

from __future__ import annotations

from typing import Any, Iterable

import attr

from hatcher.artefacts.app import AppInfo, platform_only
from hatcher.core.base import Model, registry_field, url_handler_field
from hatcher.core.brood_url_handler import ProgressCallback, UploadReceipt
from hatcher.core.organization import NOT_IMPLEMENTED
from hatcher.core.utils import EggMetadata, LocalFile, RuntimeMetadataV0, RuntimeMetadataV1, upload_verify

Download = "tuple[int, Iterator[int]]"


@attr.s(frozen=True, repr=False)
class Repository(Model):
    """One repository of an organization. Building it sends no request.

    Parameters
    ----------
    organization_name, name : str
        The organization and the repository's name.
    url_handler : BroodURLHandler
        The shared transport.
    model_registry : ModelRegistry, optional
        The API version's model classes (API version 0 when omitted).
    """

    _repr_name = "Repository"
    _repr_fields = (("organization", "organization_name"), ("repository", "name"))

    organization_name: str = attr.ib()
    name: str = attr.ib()
    _url_handler: Any = url_handler_field()
    _model_registry: Any = registry_field()

    def __str__(self) -> str:
        return f"{self.organization_name}/{self.name}"

    def _path(self, node: Any, **kwargs: Any) -> str:
        return node.format(organization_name=self.organization_name, repository_name=self.name, **kwargs)

    def platform(self, platform_name: str) -> Any:
        """The platform ``platform_name`` of this repository (no request)."""
        return self._model_registry.SinglePlatformRepository(
            self, platform_name, self._url_handler, self._model_registry)

    def delete(self, force: bool = False) -> None:
        """Delete the repository; ``force`` also deletes a repository that holds artefacts."""
        self._url_handler.delete(self._path(self._urls.admin.repositories), force=force)

    def metadata(self) -> dict[str, Any]:
        """Not provided by the Brood API: always raises ``NotImplementedError``."""
        raise NotImplementedError(NOT_IMPLEMENTED.format("Repository metadata"))

    def list_platforms(self) -> list[str]:
        """Not provided by the Brood API: always raises ``NotImplementedError``."""
        raise NotImplementedError(NOT_IMPLEMENTED.format("Listing the platforms of a repository"))

    def upload_app(self, filename: str, overwrite: bool = False, verify: bool = False,
                   progress: ProgressCallback | None = None) -> None:
        """Upload an app description (YAML) to the platform it names.

        ``verify`` (which the reference lacked) skips an app the server already holds
        with the same sha256 and raises :class:`ChecksumMismatchError` for different content.

        Raises
        ------
        MissingPlatformError
            The YAML has no ``platform``.
        """
        platform = self.platform(platform_only(filename))
        metadata = LocalFile(filename)

        def remote() -> dict[str, Any]:
            app = AppInfo.from_file(filename)
            return platform.app_metadata(app.python_tag, app.id, app.full_version)

        def upload() -> None:
            path = platform._path(self._urls.data.apps.upload)
            self._url_handler.upload(path, {"sha256": metadata.known_sha256}, filename,
                                     overwrite=overwrite, progress=progress)

        upload_verify(filename, metadata, remote, upload, verify, overwrite)

    def upload_runtime(self, filename: str, overwrite: bool = False, verify: bool = False,
                       progress: ProgressCallback | None = None) -> None:
        """Upload a v0 runtime; its metadata comes from its file name.

        Raises
        ------
        InvalidRuntime
            The file name is not ``<language>_runtime_<version>_<bsv>_<platform>_<build>.<ext>``.
        ChecksumMismatchError
            With ``verify``: the server holds this runtime with different content.
        """
        metadata = RuntimeMetadataV0.from_file(filename)
        platform = self.platform(metadata.platform)

        def upload() -> None:
            path = platform._path(self._urls.data.runtimes.upload)
            self._url_handler.upload(path, metadata.upload_data(), filename,
                                     overwrite=overwrite, progress=progress)

        upload_verify(filename, metadata,
                      lambda: platform.runtime_metadata(metadata.python_tag, metadata.full_version),
                      upload, verify, overwrite)

    def reindex(self, eggs_to_enable: list[str]) -> None:
        """Enable eggs repository-wide (the pre-0.8.1 endpoint); prefer the platform's ``reindex``."""
        self._url_handler.post(self._path(self._urls.data.eggs.re_index_repository),
                               reindex_payload(eggs_to_enable))


def reindex_body(eggs: Iterable[EggMetadata]) -> dict[str, list[dict[str, str]]]:
    """The re-index body for local eggs: distinct (name, version, python_tag) items."""
    entries: dict[tuple[str, ...], dict[str, str]] = {}
    for egg in eggs:
        entry = egg.reindex_entry
        entries.setdefault(tuple(entry.values()), entry)
    return {"eggs": list(entries.values())}


def reindex_payload(eggs_to_enable: list[str]) -> dict[str, list[dict[str, str]]]:
    """The re-index body for local egg files: distinct (name, version, python_tag) items."""
    return reindex_body(EggMetadata.from_file(path) for path in eggs_to_enable)


@attr.s(frozen=True, repr=False)
class RepositoryV1(Repository):
    """A repository on API version 1: runtimes are read from their archive; bundles."""

    def upload_runtime(self, filename: str, overwrite: bool = False, verify: bool = False,
                       progress: ProgressCallback | None = None) -> None:
        """Upload a v1 runtime; its metadata is read from ``enthought/runtime.json`` inside it.

        Raises
        ------
        InvalidRuntime
            Not a runtime archive, or its metadata is invalid.
        ChecksumMismatchError
            With ``verify``: the server holds this runtime with different content.
        """
        metadata = RuntimeMetadataV1.from_file(filename)
        platform = self.platform(metadata.platform)

        def upload() -> None:
            path = platform._path(self._urls.data.runtimes.upload)
            self._url_handler.upload(path, {"sha256": metadata.known_sha256}, filename,
                                     overwrite=overwrite, progress=progress)

        upload_verify(filename, metadata,
                      lambda: platform.runtime_metadata(metadata.implementation, metadata.version),
                      upload, verify, overwrite)

    def upload_bundle(self, filepath: str, overwrite: bool = False) -> Any:
        """Upload a bundle file named ``<name>-<version>-<build>.bundle``; return its controller.

        Raises
        ------
        InvalidBundle
            The file is unreadable, is not JSON, lacks ``runtime`` or is badly named.
        """
        from hatcher.core.bundle import BundleControllerFactory

        controller = BundleControllerFactory(self, self._urls).from_file(filepath)
        controller.upload(overwrite=overwrite)
        return controller


@attr.s(frozen=True, repr=False)
class SinglePlatformRepository(Model):
    """One platform of a repository: its eggs, runtimes and apps. Building it sends no request.

    Parameters
    ----------
    repository : Repository
        The parent repository.
    platform : str
        The platform name, e.g. ``rh7-x86_64`` (the attribute is ``name``).
    url_handler, model_registry
        As for :class:`Repository`.
    """

    _repr_name = "SinglePlatformRepository"
    _repr_fields = (("organization", "organization_name"), ("repository", "repository_name"),
                    ("platform", "name"))
    _runtime_key = "python_tag"

    repository: Repository = attr.ib()
    name: str = attr.ib(alias="platform")
    _url_handler: Any = url_handler_field()
    _model_registry: Any = registry_field()

    @property
    def organization_name(self) -> str:
        """The organization's name."""
        return self.repository.organization_name

    @property
    def repository_name(self) -> str:
        """The repository's name."""
        return self.repository.name

    def __str__(self) -> str:
        return f"{self.organization_name}/{self.repository_name}/{self.name}"

    def _path(self, node: Any, **kwargs: Any) -> str:
        return node.format(organization_name=self.organization_name,
                           repository_name=self.repository_name, platform=self.name, **kwargs)

    def _get(self, node: Any, **kwargs: Any) -> Any:
        return self._url_handler.get_json(self._path(node, **kwargs))

    # -- eggs -----------------------------------------------------------------------

    def egg_index(self, python_tag: str) -> dict[str, Any]:
        """The raw egg index for ``python_tag``, keyed by egg file name."""
        return self._get(self._urls.indices.eggs, python_tag=python_tag)

    def list_eggs(self, python_tag: str) -> list[dict[str, Any]]:
        """``[{"name": <egg file name>, "python_tag": ...}]`` in index order."""
        return [{"name": key, "python_tag": entry.get("python_tag")}
                for key, entry in self.egg_index(python_tag).items()]

    def egg_metadata(self, python_tag: str, name: str, version: str) -> dict[str, Any]:
        """The metadata of one egg (``version`` is ``upstream-build``)."""
        return self._get(self._urls.metadata.artefacts.eggs, python_tag=python_tag, name=name, version=version)

    def iter_download_egg(self, python_tag: str, name: str, version: str, destination: str,
                          expected_sha256: str | None = None, filename: str | None = None) -> Download:
        """Prepare a verified egg download; return ``(content_length, iterator of chunk sizes)``.

        Without ``expected_sha256`` the egg's metadata is fetched for it. Exhaust the
        iterator to write the file; a checksum mismatch raises from the iterator.
        """
        if expected_sha256 is None:
            expected_sha256 = self.egg_metadata(python_tag, name, version)["sha256"]
        path = self._path(self._urls.data.eggs.download, python_tag=python_tag, name=name, version=version)
        return self._url_handler.iter_download(path, destination, expected_sha256, filename)

    def download_egg(self, python_tag: str, name: str, version: str, destination: str,
                     expected_sha256: str | None = None, filename: str | None = None,
                     progress: ProgressCallback | None = None) -> None:
        """Download one egg into the directory ``destination`` and verify its sha256.

        Raises
        ------
        ChecksumMismatchError
            The bytes received do not match; no file is left under the target name.
        """
        _drain(self.iter_download_egg(python_tag, name, version, destination, expected_sha256, filename), progress)

    def delete_egg(self, python_tag: str, name: str, version: str) -> None:
        """Delete one egg."""
        self._url_handler.delete(
            self._path(self._urls.data.eggs.delete, python_tag=python_tag, name=name, version=version))

    def upload_egg(self, filename: str, overwrite: bool = False, enabled: bool = True,
                   verify: bool = False, progress: ProgressCallback | None = None) -> None:
        """Upload an egg; it is read and validated locally first.

        Parameters
        ----------
        filename : str
            A local ``name-version-build.egg``.
        overwrite : bool
            Replace an egg the server already holds.
        enabled : bool
            False stores the egg without indexing it (see :meth:`reindex`).
        verify : bool
            Skip the upload when the server holds the same file; raise on different content.
        progress : callable, optional
            Called with the number of bytes sent since its previous call.

        Raises
        ------
        InvalidEgg
            The file is not a valid egg (no request is sent).
        ChecksumMismatchError
            With ``verify``: the server holds this egg with different content.
        """
        metadata = EggMetadata.from_file(filename)
        upload_verify(filename, metadata,
                      lambda: self.egg_metadata(metadata.python_tag, metadata.name, metadata.full_version),
                      lambda: self._send_egg(metadata, overwrite, enabled, progress), verify, overwrite)

    def _send_egg(self, metadata: EggMetadata, overwrite: bool = False, enabled: bool = True,
                 progress: ProgressCallback | None = None) -> UploadReceipt:
        """Upload an egg already read with :meth:`EggMetadata.from_file`, without verification.

        The building block of :meth:`upload_egg` and of batch uploads, which read each egg
        once and want the server's answer.

        Returns
        -------
        UploadReceipt
            The status, the sha256 sent and the server's answer.
        """
        return self._url_handler.upload(self._path(self._urls.data.eggs.upload), {"sha256": metadata.known_sha256},
                                        metadata.path, overwrite=overwrite, enabled=enabled, progress=progress)

    def reindex(self, eggs_to_enable: list[str]) -> None:
        """Enable (index) the eggs of these local egg files, e.g. after ``enabled=False`` uploads."""
        self._reindex_eggs(EggMetadata.from_file(path) for path in eggs_to_enable)

    def _reindex_eggs(self, eggs: Iterable[EggMetadata]) -> None:
        """Enable (index) eggs already read with :meth:`EggMetadata.from_file` (see :meth:`reindex`)."""
        self._url_handler.post(self._path(self._urls.data.eggs.re_index), reindex_body(eggs))

    # -- apps -----------------------------------------------------------------------

    def app_index(self) -> dict[str, Any]:
        """The raw app index ``{python_tag: {app_id: {version: {build: entry}}}}``."""
        return self._get(self._urls.indices.apps)

    def list_apps(self) -> list[tuple[str, str, str]]:
        """``(app_id, "<version>-<build>", python_tag)`` for every app, in index order."""
        return [(app_id, f"{version}-{build}", python_tag)
                for python_tag, apps in self.app_index().items()
                for app_id, versions in apps.items()
                for version, builds in versions.items()
                for build in builds]

    def app_metadata(self, python_tag: str, app_id: str, version: str) -> dict[str, Any]:
        """The metadata of one app (``version`` is ``<version>-<build>``)."""
        return self._get(self._urls.metadata.artefacts.apps, python_tag=python_tag, app_id=app_id, version=version)

    # -- runtimes (API version 0: keyed by python tag) --------------------------------

    def runtime_index(self) -> dict[str, Any]:
        """The raw runtime index."""
        return self._get(self._urls.indices.runtimes)

    def list_runtimes(self) -> list[Any]:
        """The distinct runtime file names of the index, in index order."""
        names = (leaf["filename"] for versions in self.runtime_index().values()
                 for builds in versions.values() for leaf in builds.values())
        return list(dict.fromkeys(names))

    def _runtime_path(self, node: Any, key: str, version: str) -> str:
        return self._path(node, version=version, **{self._runtime_key: key})

    def runtime_metadata(self, python_tag: str, version: str) -> dict[str, Any]:
        """The metadata of one runtime (``version`` is ``<version>-<build>``)."""
        path = self._runtime_path(self._urls.metadata.artefacts.runtimes, python_tag, version)
        return self._url_handler.get_json(path)

    def iter_download_runtime(self, python_tag: str, version: str, destination: str,
                              expected_sha256: str | None = None) -> Download:
        """Prepare a verified runtime download; see :meth:`iter_download_egg`."""
        if expected_sha256 is None:
            expected_sha256 = self.runtime_metadata(python_tag, version)["sha256"]
        path = self._runtime_path(self._urls.data.runtimes.download, python_tag, version)
        return self._url_handler.iter_download(path, destination, expected_sha256)

    def download_runtime(self, python_tag: str, version: str, destination: str,
                         expected_sha256: str | None = None, progress: ProgressCallback | None = None) -> None:
        """Download one runtime into ``destination`` (named by the server) and verify it."""
        _drain(self.iter_download_runtime(python_tag, version, destination, expected_sha256), progress)


def _drain(download: Any, progress: ProgressCallback | None) -> None:
    _, chunks = download
    for size in chunks:
        if progress is not None:
            progress(size)


@attr.s(frozen=True, repr=False)
class SinglePlatformRepositoryV1(SinglePlatformRepository):
    """A platform on API version 1: runtimes keyed by implementation, bundles, runtime deletion."""

    _runtime_key = "implementation"

    def list_runtimes(self) -> list[tuple[str, str]]:
        """``(implementation, version)`` for every runtime, in index order."""
        return [(implementation, version)
                for implementation, versions in self.runtime_index().items() for version in versions]

    def runtime_metadata(self, implementation: str, version: str) -> dict[str, Any]:
        """The metadata of one runtime (``version`` like ``3.8.10+2``)."""
        return super().runtime_metadata(implementation, version)

    def iter_download_runtime(self, implementation: str, version: str, destination: str,
                              expected_sha256: str | None = None) -> Download:
        """Prepare a verified runtime download; see :meth:`iter_download_egg`."""
        return super().iter_download_runtime(implementation, version, destination, expected_sha256)

    def download_runtime(self, implementation: str, version: str, destination: str,
                         expected_sha256: str | None = None, progress: ProgressCallback | None = None) -> None:
        """Download one runtime into ``destination`` (named by the server) and verify it."""
        super().download_runtime(implementation, version, destination, expected_sha256, progress)

    def runtime_delete(self, implementation: str, version: str) -> None:
        """Delete one runtime."""
        self._url_handler.delete(self._runtime_path(self._urls.data.runtimes.delete, implementation, version))

    # -- bundles --------------------------------------------------------------------

    @property
    def bundles(self) -> Any:
        """The bundles of this platform (a :class:`BundleCollectionController`; no request)."""
        from hatcher.core.bundle import BundleCollectionController

        return BundleCollectionController(self, self._urls)

    def bundle_index(self) -> dict[str, Any]:
        """The raw bundle index."""
        return self.bundles.index()

    def bundle_list(self) -> list[dict[str, str]]:
        """``[{"python_tag", "name", "version"}]`` for every bundle, in index order."""
        return self.bundles.list()

    def bundle_metadata(self, python_tag: str, name: str, version: str) -> dict[str, Any]:
        """The metadata of one bundle, with the bundle document under ``data``."""
        return self.bundles.get(python_tag, name, version).metadata()

    def bundle_save(self, python_tag: str, name: str, version: str, directory: str,
                    overwrite: bool = False) -> str:
        """Write one bundle to ``directory/<name>-<version>.bundle``; return that path."""
        return self.bundles.get(python_tag, name, version).save(directory, overwrite)

    def bundle_delete(self, python_tag: str, name: str, version: str) -> None:
        """Delete one bundle."""
        self.bundles.delete(python_tag, name, version)

