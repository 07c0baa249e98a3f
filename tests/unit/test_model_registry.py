"""The model registry: which class serves which API version, and API-version validation."""

from __future__ import annotations

import pytest
from unit_http import URL

from hatcher.api import MAX_API_VERSION, BroodClient
from hatcher.core.brood_url_handler import BroodURLHandler
from hatcher.core.model_registry import (
    InvalidApiVersion,
    InvalidApiVersionDefinition,
    ModelRegistry,
    is_model_factory,
    versioned_model,
)
from hatcher.core.organization import Organization
from hatcher.core.repository import (
    Repository,
    RepositoryV1,
    SinglePlatformRepository,
    SinglePlatformRepositoryV1,
)
from hatcher.core.team import Team
from hatcher.core.user import User
from hatcher.errors import HatcherException


class Old:
    pass


class New:
    pass


class Registry(ModelRegistry):
    """A registry with models declared for v0 only, v1 only, and v0 + v2."""

    @versioned_model(v1=New)
    def OnlyV1(self):  # noqa: N802
        """Registered from version 1."""

    @versioned_model(v0=Old, v2=New)
    def Sparse(self):  # noqa: N802
        """Registered for versions 0 and 2."""


@pytest.fixture
def handler() -> BroodURLHandler:
    return BroodURLHandler.from_auth(URL)


def test_max_api_version_is_one():
    assert MAX_API_VERSION == 1


def test_registry_defaults_to_the_highest_version():
    assert ModelRegistry().api_version == 1
    assert ModelRegistry(None).api_version == 1
    assert ModelRegistry(0).api_version == 0


def test_registry_above_the_maximum_raises():
    with pytest.raises(InvalidApiVersion) as info:
        ModelRegistry(2)
    assert info.value.api_version == 2
    assert info.value.args == (2,)
    assert str(info.value) == "Unsupported API version: 2 (supported: 0 to 1)"


@pytest.mark.parametrize(("version", "attribute", "expected"), [
    (0, "Organization", Organization),
    (1, "Organization", Organization),
    (0, "Repository", Repository),
    (1, "Repository", RepositoryV1),
    (0, "SinglePlatformRepository", SinglePlatformRepository),
    (1, "SinglePlatformRepository", SinglePlatformRepositoryV1),
    (0, "User", User),
    (1, "User", User),
    (0, "Team", Team),
])
def test_class_lookup_per_version(version, attribute, expected):
    assert getattr(ModelRegistry(version), attribute) is expected


def test_v1_repository_classes_subclass_the_v0_ones():
    assert issubclass(SinglePlatformRepositoryV1, SinglePlatformRepository)
    assert issubclass(RepositoryV1, Repository)
    assert SinglePlatformRepositoryV1 is not SinglePlatformRepository


def test_lookup_falls_back_to_the_nearest_lower_version():
    assert Registry(1).Sparse is Old
    assert Registry(0).Sparse is Old
    assert Registry(1).OnlyV1 is New


def test_lookup_below_the_lowest_version_raises_on_access():
    registry = Registry(0)
    with pytest.raises(InvalidApiVersion):
        _ = registry.OnlyV1
    with pytest.raises(InvalidApiVersion):
        _ = ModelRegistry(-1).Organization


def test_registry_equality_and_repr():
    assert ModelRegistry(0) == ModelRegistry(0)
    assert ModelRegistry(0) != ModelRegistry(1)
    assert hash(ModelRegistry(1)) == hash(ModelRegistry(None))
    assert repr(ModelRegistry(1)) == "<ModelRegistry api_version=1>"


def test_versioned_model_without_keys_raises_runtime_error():
    with pytest.raises(RuntimeError):
        versioned_model()


@pytest.mark.parametrize("versions", [
    {"x0": Old}, {"v": Old}, {"V1": Old}, {"v1a": Old}, {"v0": "Organization"}, {"v0": Old()},
])
def test_versioned_model_rejects_bad_declarations(versions):
    with pytest.raises(InvalidApiVersionDefinition):
        versioned_model(**versions)


def test_is_model_factory():
    assert is_model_factory(ModelRegistry.__dict__["Organization"]) is True
    assert is_model_factory(ModelRegistry.__dict__["Organization"].fget) is True
    assert is_model_factory(Registry.__dict__["Sparse"]) is True
    assert is_model_factory(property(lambda self: Old)) is False
    assert is_model_factory(lambda: None) is False
    assert is_model_factory(ModelRegistry.__repr__) is False


def test_factory_keeps_the_declared_docstring():
    assert ModelRegistry.Repository.__doc__ == "The ``Repository`` class of this version."


# -- BroodClient's API version ----------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1])
def test_client_accepts_supported_versions(handler, version):
    client = BroodClient(handler, api_version=version)
    assert client.api_version == version
    assert client._model_registry == ModelRegistry(version)


def test_client_defaults_to_version_zero(handler):
    assert BroodClient(handler).api_version == 0
    assert BroodClient.from_url(URL).api_version == 0


def test_client_above_the_maximum_raises_invalid_api_version(handler):
    with pytest.raises(InvalidApiVersion):
        BroodClient(handler, api_version=2)
    with pytest.raises(InvalidApiVersion):
        BroodClient.from_url(URL, api_version=2)


@pytest.mark.parametrize("version", [2, 3, 1.5, 2.0, 10**20])
def test_any_number_above_the_maximum_is_invalid_api_version_and_a_hatcher_exception(version):
    # The reference raises InvalidApiVersion(version) for every number above the maximum;
    # here it is also a HatcherException, so one ``except HatcherException`` catches it.
    with pytest.raises(HatcherException) as info:
        BroodClient.from_url(URL, api_version=version)
    assert type(info.value) is InvalidApiVersion
    assert info.value.args == (version,)
    assert info.value.api_version == version
    assert str(info.value) == f"Unsupported API version: {version!r} (supported: 0 to 1)"


@pytest.mark.parametrize("version", [-1, "1", 1.0, 0.5, True, None])
def test_client_rejects_other_values_with_value_error(handler, version):
    with pytest.raises(ValueError) as info:
        BroodClient(handler, api_version=version)
    assert type(info.value) is ValueError


def test_invalid_api_version_is_a_value_error():
    assert issubclass(InvalidApiVersion, ValueError)


@pytest.mark.parametrize("version", [0, 1])
def test_private_api_version_warns(handler, version):
    client = BroodClient(handler, api_version=version)
    with pytest.warns(DeprecationWarning, match="api_version"):
        assert client._api_version == version


@pytest.mark.parametrize(("version", "expected"), [(0, SinglePlatformRepository), (1, SinglePlatformRepositoryV1)])
def test_navigators_build_the_classes_of_the_client_version(handler, version, expected):
    platform = BroodClient(handler, api_version=version).organization("acme").repository("dev").platform("rh7-x86_64")
    assert type(platform) is expected
