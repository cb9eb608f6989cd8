"""Who may do what: the one place that decides permissions.

``allowed(subject, action, resource)`` is the whole policy; every resolver, route and
ingest path asks it, through :func:`require` (which refuses) or :func:`allowed` (which
filters a connection or a nested field). It is pure: the subject carries its grants
(:class:`Grants`, loaded with the user by ``storage.metadata.teams.grants_of``), so a test
can enumerate it without a server.

The model:

* A **role** on an entity: ``admin``, ``member`` or ``viewer``. A user is admin of their
  own entity; team roles come from team membership; an organization's admins are admins of
  every team in it; server admins (``User.admin``) may do anything.
* An **action**: ``read`` (see runs, files, artifacts), ``write`` (log runs, artifacts,
  delete runs) or ``admin`` (manage members, roles, project visibility).
  Viewers read; members read and write; admins do everything.
* A project's **visibility**: ``TEAM`` (the default: every role on the entity),
  ``PRIVATE`` (only the entity's admins), ``ORGANIZATION`` (also read by every member of
  the team's organization, who is neither able to write nor to see private projects).
* A **role on one project** (a registry's members, users or whole teams) allows what it
  allows there, whatever the project's visibility.
* An organization's own entity (where its registries live, ``domain.registry``) is read
  (the entity, not its projects) by every member of the organization.

A refusal is :class:`~tracklet.errors.NotFound`, worded as a missing object would be, so a
caller learns nothing about what exists outside what they may read.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from tracklet.domain.records import User
from tracklet.errors import NotFound


class Role(enum.Enum):
    """A user's role on an entity (team), strongest first."""

    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role called ``value`` (case-insensitive); ValueError otherwise."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValueError(f"role must be one of admin, member, viewer; not {value!r}")\
                from None


class Action(enum.Enum):
    """What a subject wants to do to a resource."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Visibility(enum.Enum):
    """Who reads a project beyond its entity's roles."""

    PRIVATE = "PRIVATE"
    TEAM = "TEAM"
    ORGANIZATION = "ORGANIZATION"

    @classmethod
    def parse(cls, value: str | None) -> Visibility:
        """A visibility from its name; None is the default (TEAM); ValueError otherwise."""
        if value is None:
            return cls.TEAM
        try:
            return cls(value.strip().upper())
        except ValueError:
            raise ValueError("project access must be one of PRIVATE, TEAM, ORGANIZATION; "
                             f"not {value!r}") from None


#: The actions each role allows.
_ROLE_ACTIONS = {
    Role.ADMIN: frozenset(Action),
    Role.MEMBER: frozenset({Action.READ, Action.WRITE}),
    Role.VIEWER: frozenset({Action.READ}),
}


@dataclass(frozen=True)
class Grants:
    """What a user holds beyond their own entity, loaded with them.

    ``roles``: (entity name, role) of every team they belong to (org admins: every team of
    their organizations as admin). ``org_readable``: (entity, project) of the projects
    open to an organization they belong to. ``private``: (entity, project) of the PRIVATE
    projects in entities where they hold a role. ``org_entities``: the entities of the
    organizations they belong to.
    """

    roles: tuple[tuple[str, Role], ...] = ()
    org_readable: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    private: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    org_entities: frozenset[str] = field(default_factory=frozenset)
    #: ((entity, project), role) held on single projects (a registry's members), directly
    #: or through a team.
    project_roles: tuple[tuple[tuple[str, str], Role], ...] = ()

    def role(self, entity: str) -> Role | None:
        """The role held on ``entity``, or None."""
        for name, role in self.roles:
            if name == entity:
                return role
        return None

    def project_role(self, entity: str, project: str) -> Role | None:
        """The role held on project ``entity``/``project`` itself, or None."""
        for key, role in self.project_roles:
            if key == (entity, project):
                return role
        return None


@dataclass(frozen=True)
class Subject(User):
    """Who acts: a user with their grants. A User, so it travels wherever the caller's
    user does; a bare User (no grants) holds only their own entity."""

    grants: Grants = field(default_factory=Grants)

    @classmethod
    def of(cls, user: User, grants: Grants) -> Subject:
        """``user`` holding ``grants``."""
        values = {f: getattr(user, f) for f in User.__dataclass_fields__}
        return cls(**values, grants=grants)


@dataclass(frozen=True)
class Resource:
    """What is acted on: an entity, or a project within it."""

    entity: str
    project: str | None = None

    def __str__(self) -> str:
        if self.project is None:
            return f"entity {self.entity!r}"
        return f"project {self.entity}/{self.project}"


def grants_of(actor: User) -> Grants:
    """The grants ``actor`` holds (none for a bare User)."""
    return actor.grants if isinstance(actor, Subject) else _NO_GRANTS


_NO_GRANTS = Grants()


def role_on(actor: User, entity: str) -> Role | None:
    """The role ``actor`` holds on ``entity`` (server admins and owners: admin)."""
    if actor.admin or actor.entity == entity:
        return Role.ADMIN
    return grants_of(actor).role(entity)


def allowed(actor: User, action: Action, resource: Resource) -> bool:
    """Whether ``actor`` may do ``action`` to ``resource``: the whole policy. A role held
    on the project itself (a registry member's) allows what that role allows there, on
    top of what the entity grants."""
    grants = grants_of(actor)
    if _by_entity(actor, grants, action, resource):
        return True
    if resource.project is None:
        return False
    held = grants.project_role(resource.entity, resource.project)
    return held is not None and action in _ROLE_ACTIONS[held]


def _by_entity(actor: User, grants: Grants, action: Action, resource: Resource) -> bool:
    role = role_on(actor, resource.entity)
    key = (resource.entity, resource.project or "")
    if role is not None:
        if action not in _ROLE_ACTIONS[role]:
            return False
        # Below admin, a PRIVATE project of the entity is out of reach.
        return role is Role.ADMIN or resource.project is None or key not in grants.private
    if action is not Action.READ:
        return False
    if resource.project is None:
        return resource.entity in grants.org_entities
    return key in grants.org_readable


def require(actor: User, action: Action, entity: str, project: str | None = None,
            missing: str | None = None) -> None:
    """NotFound unless ``actor`` may do ``action`` to ``entity``/``project``: worded as
    ``missing`` (what the caller is told when the object they named does not exist, say
    "run not found" for a lookup by id), else as a missing entity or project."""
    resource = Resource(entity, project)
    if not allowed(actor, action, resource):
        raise NotFound(missing or f"{resource} not found")


def can(actor: User, action: Action, entity: str, project: str | None = None) -> bool:
    """:func:`allowed` for an entity or project named by strings."""
    return allowed(actor, action, Resource(entity, project))
