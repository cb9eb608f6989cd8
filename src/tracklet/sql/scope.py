"""Which runs a query may see: the one place the SQL console asks the access rules.

Every view a query reads is built from the runs of :func:`readable_entities` only, so a
statement cannot reach past them whatever it says. Point this function at the access policy
when it changes; nothing else in :mod:`tracklet.sql` decides visibility.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from tracklet.domain.policy import Action, can, grants_of, role_on
from tracklet.domain.records import User
from tracklet.storage.metadata.tables import entities


def readable_entities(conn: Connection, user: User) -> list[str]:
    """The names of the entities where ``user`` may read some project; which of their
    projects is :func:`may_read`'s answer."""
    open_to_org = {entity for entity, _project in grants_of(user).org_readable}
    names = conn.execute(select(entities.c.name).order_by(entities.c.name)).scalars()
    return [name for name in names if role_on(user, name) is not None or name in open_to_org]


def may_read(user: User, entity: str, project: str) -> bool:
    """Whether ``user`` may read project ``entity/project`` (its visibility decides within
    an entity: a PRIVATE project is its admins' only; an organization's open projects are
    read by its members)."""
    return can(user, Action.READ, entity, project)
