"""Organizations, repositories, users and teams through hatcher's public client, over loopback HTTP."""

from __future__ import annotations

import hashlib
import time

import pytest
from artefact_kit import blob_stored
from server_world import World

from hatcher.errors import BroodHTTPError
from hatcher.server import gc
from hatcher.server.db import Artefact, Blob, Repository


def status_of(call, *args, **kwargs) -> int:
    """The HTTP status a client call failed with (fails the test if it succeeded)."""
    with pytest.raises(BroodHTTPError) as info:
        call(*args, **kwargs)
    return info.value.status_code


# -- organizations --------------------------------------------------------------------------------

def test_superuser_creates_an_organization_that_it_then_lists(admin, unique):
    # Given a fresh organization name
    name = unique("acme")
    # When the superuser creates it
    admin.create_organization(name, "ACME Inc.")
    # Then it is listed
    assert name in admin.list_organizations()


def test_a_duplicate_organization_is_refused_with_409(admin, unique):
    # Given an existing organization
    name = unique("dup")
    admin.create_organization(name, "first")
    # When it is created again / Then 409
    assert status_of(admin.create_organization, name, "second") == 409


def test_members_list_only_their_organizations(world: World, api_version):
    # Given a member of one organization (another organization exists)
    client = world.client(world.reader_email, api_version)
    # When they list organizations
    # Then they see only theirs
    assert client.list_organizations() == [world.org]


def test_an_organization_administrator_cannot_create_organizations(world: World, api_version, unique):
    # Given an organization administrator who is not a superuser
    client = world.client(world.admin_email, api_version)
    # When they create an organization / Then 403
    assert status_of(client.create_organization, unique("nope"), "") == 403


# -- repositories ---------------------------------------------------------------------------------

def test_an_organization_administrator_creates_and_lists_repositories(world: World, api_version):
    # Given the organization's administrator
    organization = world.client(world.admin_email, api_version).organization(world.org)
    # When they create a repository
    repository = organization.create_repository("staging", "Staging builds")
    # Then it is listed with the others, by short name
    assert repository.name == "staging"
    assert organization.list_repositories() == ["dev", "other", "staging"]
    # And a second creation is refused
    assert status_of(organization.create_repository, "staging", "again") == 409


def test_members_list_the_repositories_they_hold_a_role_on(world: World, api_version):
    # Given a reader of dev, a plain member and a user of another organization
    reader = world.client(world.reader_email, api_version).organization(world.org)
    plain = world.client(world.plain_email, api_version).organization(world.org)
    outsider = world.client(world.outsider_email, api_version).organization(world.org)
    # When each lists the repositories / Then the reader sees dev, the plain member nothing,
    # and the outsider cannot see the organization at all
    assert reader.list_repositories() == ["dev"]
    assert plain.list_repositories() == []
    assert status_of(outsider.list_repositories) == 404


def test_only_administrators_create_repositories(world: World, api_version):
    # Given a reader (member) and an outsider
    reader = world.client(world.reader_email, api_version).organization(world.org)
    outsider = world.client(world.outsider_email, api_version).organization(world.org)
    # When they create a repository / Then the member gets 403, the outsider 404
    assert status_of(reader.create_repository, "mine", "") == 403
    assert status_of(outsider.create_repository, "mine", "") == 404


def test_an_empty_repository_is_deleted_without_force(world: World, api_version):
    # Given an empty repository
    organization = world.client(world.admin_email, api_version).organization(world.org)
    repository = organization.create_repository("scratch", "")
    # When it is deleted without force
    repository.delete()
    # Then it is gone, and deleting it again is 404
    assert "scratch" not in organization.list_repositories()
    assert status_of(repository.delete) == 404


def _add_artefact(brood, org: str, repo: str, content: bytes) -> str:
    """Store a blob and an egg row in ``org/repo`` directly (independent of the upload routes)."""
    store = brood.app.state.store
    incoming = store.writer()
    incoming.write(content)
    sha256, md5, size = incoming.finish()
    with brood.app.state.sessionmaker() as db:
        repository = next(r for r in db.query(Repository).all() if r.full_name == f"{org}/{repo}")
        if db.get(Blob, sha256) is None:
            db.add(Blob(sha256=sha256, key=store.publish(incoming, sha256), md5=md5, size=size))
            db.flush()
        incoming.discard()
        db.add(Artefact(repository_id=repository.id, kind="egg", platform="rh7-x86_64", key="cp38",
                        name=f"demo{sha256[:8]}", version="1.0-1", filename="demo-1.0-1.egg", sha256=sha256, md5=md5,
                        size=size, mtime=time.time(), document={}))
        db.commit()
    return sha256


@pytest.mark.parametrize("batch", [1, 500], ids=["one-digest-per-query", "batched"])
def test_a_non_empty_repository_needs_force_and_its_unshared_blobs_go(world: World, brood, api_version,
                                                                      monkeypatch, batch):
    monkeypatch.setattr(gc, "BATCH", batch)
    # Given dev holds three artefacts, one of whose blobs other also holds
    own = _add_artefact(brood, world.org, "dev", b"only in dev " + world.org.encode())
    also_own = _add_artefact(brood, world.org, "dev", b"also only in dev " + world.org.encode())
    shared = _add_artefact(brood, world.org, "dev", b"shared " + world.org.encode())
    _add_artefact(brood, world.org, "other", b"shared " + world.org.encode())
    repository = world.client(world.admin_email, api_version).organization(world.org).repository("dev")
    # When it is deleted without force / Then 409 and nothing changes
    assert status_of(repository.delete) == 409
    assert blob_stored(brood, own)
    # When it is deleted with force
    repository.delete(force=True)
    # Then the repository is gone with its artefacts, its own blobs removed, the shared blob kept
    assert "dev" not in world.client(world.admin_email, api_version).organization(world.org).list_repositories()
    with brood.app.state.sessionmaker() as db:
        assert {artefact.sha256 for artefact in db.query(Artefact).all()} & {own, also_own, shared} == {shared}
    assert not blob_stored(brood, own) and not blob_stored(brood, also_own)
    assert blob_stored(brood, shared)
    assert own != shared == hashlib.sha256(b"shared " + world.org.encode()).hexdigest()


# -- users ----------------------------------------------------------------------------------------

def test_a_user_is_created_with_teams_described_and_deleted(world: World, api_version, unique):
    # Given the administrator and two teams of the organization
    organization = world.client(world.admin_email, api_version).organization(world.org)
    teams = [organization.team("readers"), organization.team("indexers")]
    email = unique("jane") + "@example.org"
    # When they create a user in those teams
    user = organization.create_user(email, teams=teams)
    # Then its metadata names the organization and the teams
    assert user.metadata() == {"email": email, "organization": world.org, "teams": ["indexers", "readers"]}
    assert email in organization.team("readers").list_users()
    # When the user is deleted
    user.delete()
    # Then it is no member any more, of the organization nor of its teams
    assert status_of(user.metadata) == 404
    assert email not in organization.team("readers").list_users()


def test_user_creation_refusals(world: World, api_version):
    # Given the administrator
    organization = world.client(world.admin_email, api_version).organization(world.org)
    # When a member is created again / Then 409
    assert status_of(organization.create_user, world.reader_email) == 409
    # When a user is created in a team that does not exist / Then 404, like every missing resource,
    # and the user was not added (not even to the organization)
    assert status_of(organization.create_user, "new@example.org", teams=[organization.team("ghosts")]) == 404
    assert status_of(organization.create_user, "new@example.org",
                     teams=[organization.team("readers"), organization.team("ghosts")]) == 404
    assert status_of(organization.user("new@example.org").metadata) == 404
    assert "new@example.org" not in organization.team("readers").list_users()
    # And a plain member may not create users at all
    plain = world.client(world.plain_email, api_version).organization(world.org)
    assert status_of(plain.create_user, "new@example.org") == 403


def test_a_user_of_another_organization_can_join_this_one(world: World, api_version):
    # Given a user who belongs to another organization
    organization = world.client(world.admin_email, api_version).organization(world.org)
    # When the administrator adds them here
    organization.create_user(world.outsider_email)
    # Then they see both organizations
    assert world.client(world.outsider_email, api_version).list_organizations() == sorted(
        [world.org, world.outsider_org])


# -- teams ----------------------------------------------------------------------------------------

def test_the_team_lifecycle(world: World, api_version):
    # Given the administrator of the organization
    organization = world.client(world.admin_email, api_version).organization(world.org)
    repository, user = organization.repository("other"), organization.user(world.plain_email)
    # When they create a team
    team = organization.create_team("uploaders", "upload_repository")
    # Then it is listed with its group
    assert {"name": "uploaders", "group": "upload_repository"} in organization.list_teams()
    assert [t["name"] for t in organization.list_teams()] == ["admins", "indexers", "readers", "uploaders"]
    # When they grant it a repository and add a member
    assert not team.query_repository_access(repository)
    team.add_repository(repository)
    team.add_repository(repository)  # idempotent
    assert not team.query_user_access(user)
    team.add_user(user)
    # Then the team reports both
    assert team.query_repository_access(repository)
    assert team.list_repositories() == ["other"]
    assert team.query_user_access(user)
    assert team.list_users() == [world.plain_email]
    assert team.metadata() == {"name": "uploaders", "group": "upload_repository",
                               "repositories": ["other"], "members": [world.plain_email]}
    # And the member now has that access
    member = world.client(world.plain_email, api_version)
    assert member.list_available_repositories() == [f"{world.org}/other"]
    # When they revoke both and delete the team
    team.remove_repository(repository)
    team.remove_user(user)
    assert not team.query_repository_access(repository)
    assert not team.query_user_access(user)
    assert status_of(team.remove_user, user) == 404
    team.delete()
    # Then it is gone
    assert "uploaders" not in [t["name"] for t in organization.list_teams()]
    assert status_of(team.metadata) == 404


def test_team_refusals(world: World, api_version):
    # Given the administrator and a reader
    organization = world.client(world.admin_email, api_version).organization(world.org)
    reader = world.client(world.reader_email, api_version).organization(world.org)
    # Then duplicates are 409, unknown roles 400, unknown repositories and non-members 404
    assert status_of(organization.create_team, "readers", "read_index") == 409
    assert status_of(organization.create_team, "gods", "superuser") == 400
    assert status_of(organization.team("readers").add_repository, organization.repository("nope")) == 404
    assert status_of(organization.team("readers").add_user, organization.user(world.outsider_email)) == 404
    # And members without the administrator role get 403
    assert status_of(reader.list_teams) == 403
    assert status_of(reader.team("readers").metadata) == 403
