"""The policy table: every role x action x visibility, against the rules as written in
``domain.policy``'s docstring."""

from __future__ import annotations

import itertools

import pytest

from tracklet.domain.policy import (
    Action,
    Grants,
    Resource,
    Role,
    Subject,
    Visibility,
    allowed,
    require,
    role_on,
)
from tracklet.domain.records import User
from tracklet.errors import NotFound


def _user(name: str, admin: bool = False) -> User:
    return User(id=hash(name) % 1000, username=name, email=None, admin=admin, entity_id=1,
                entity=name, created_at=0.0)


def _subject(name: str, role: Role | None, visibility: Visibility,
             in_org: bool = False) -> Subject:
    """``name`` holding ``role`` on team ``ml``, whose project ``p`` has ``visibility``."""
    roles = () if role is None else (("ml", role),)
    project = {("ml", "p")}
    return Subject.of(_user(name), Grants(
        roles=roles,
        org_readable=frozenset(project if in_org and visibility is Visibility.ORGANIZATION
                               else ()),
        private=frozenset(project if role is not None and visibility is Visibility.PRIVATE
                          else ())))


def _expected(role: Role | None, in_org: bool, action: Action, visibility: Visibility) -> bool:
    if role is Role.ADMIN:
        return True
    if role is not None:
        if visibility is Visibility.PRIVATE:
            return False
        return action is Action.READ or (action is Action.WRITE and role is Role.MEMBER)
    return in_org and visibility is Visibility.ORGANIZATION and action is Action.READ


CASES = list(itertools.product([*Role, None], [False, True], Action, Visibility))


@pytest.mark.parametrize(("role", "in_org", "action", "visibility"), CASES)
def test_project_table(role: Role | None, in_org: bool, action: Action,
                       visibility: Visibility) -> None:
    subject = _subject("u", role, visibility, in_org)
    want = _expected(role, in_org, action, visibility)
    assert allowed(subject, action, Resource("ml", "p")) is want
    if not want:
        # Refused exactly as a project that does not exist.
        with pytest.raises(NotFound, match=r"^project ml/p not found$"):
            require(subject, action, "ml", "p")


def test_own_entity_and_server_admin() -> None:
    alice = _user("alice")
    assert role_on(alice, "alice") is Role.ADMIN
    assert all(allowed(alice, a, Resource("alice", "p")) for a in Action)
    assert not any(allowed(alice, a, Resource("bob", "p")) for a in Action)
    root = _user("root", admin=True)
    assert all(allowed(root, a, Resource("anyone", "x")) for a in Action)


def test_entity_level_checks_ignore_project_grants() -> None:
    """An organization member reads an open project, never the team entity itself."""
    outsider = _subject("o", None, Visibility.ORGANIZATION, in_org=True)
    assert allowed(outsider, Action.READ, Resource("ml", "p"))
    assert not allowed(outsider, Action.READ, Resource("ml"))
    assert not allowed(outsider, Action.READ, Resource("ml", "other"))


def test_parsing() -> None:
    assert Role.parse(" Viewer ") is Role.VIEWER
    assert Visibility.parse(None) is Visibility.TEAM
    assert Visibility.parse("organization") is Visibility.ORGANIZATION
    with pytest.raises(ValueError, match="role must be one of"):
        Role.parse("owner")
    with pytest.raises(ValueError, match="PRIVATE, TEAM, ORGANIZATION"):
        Visibility.parse("PUBLIC")


def test_an_organizations_members_read_its_entity_but_not_its_projects() -> None:
    """The organization's own entity (its registries' home) is read by its members; its
    projects only as their visibility says; nothing is written through it."""
    member = Subject.of(_user("dee"), Grants(org_entities=frozenset({"acme"}),
                                            org_readable=frozenset({("acme", "reg-open")})))
    assert allowed(member, Action.READ, Resource("acme"))
    assert allowed(member, Action.READ, Resource("acme", "reg-open"))
    assert not allowed(member, Action.READ, Resource("acme", "reg-closed"))
    assert not allowed(member, Action.WRITE, Resource("acme"))
    assert not allowed(member, Action.WRITE, Resource("acme", "reg-open"))
    assert not allowed(member, Action.READ, Resource("other-org"))
    assert not allowed(_user("eve"), Action.READ, Resource("acme"))


@pytest.mark.parametrize("held", [Role.ADMIN, Role.MEMBER, Role.VIEWER])
@pytest.mark.parametrize("entity_role", [None, Role.VIEWER])
def test_a_role_on_one_project_allows_what_it_allows_there(
        held: Role, entity_role: Role | None) -> None:
    # A registry member: a role on org/wandb-registry-x (PRIVATE), whatever the entity says.
    subject = Subject.of(_user("bo"), Grants(
        roles=() if entity_role is None else (("org", entity_role),),
        private=frozenset({("org", "wandb-registry-x")}) if entity_role else frozenset(),
        project_roles=((("org", "wandb-registry-x"), held),)))
    expected = {Role.ADMIN: set(Action), Role.MEMBER: {Action.READ, Action.WRITE},
                Role.VIEWER: {Action.READ}}[held]
    for action in Action:
        assert allowed(subject, action, Resource("org", "wandb-registry-x")) == (
            action in expected)
        # Nothing beyond that project: not the entity itself, not its other projects.
        assert not allowed(subject, action, Resource("org", "wandb-registry-y")) or (
            entity_role is not None and action is Action.READ)
        assert allowed(subject, action, Resource("org")) == (
            entity_role is not None and action is Action.READ)
