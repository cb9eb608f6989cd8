"""Which runs a query may see: the one place the SQL console asks the access rules.

Every view a query reads is built from the runs of :func:`readable_entities` only, so a
statement cannot reach past them whatever it says. Point this function at the access policy
when it changes; nothing else in :mod:`tracklet.sql` decides visibility.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from tracklet.domain.access import can_read
from tracklet.domain.records import User
from tracklet.storage.metadata.tables import entities


def readable_entities(conn: Connection, user: User) -> list[str]:
    """The names of the entities whose runs (and their histories, system metrics and
    artifacts) ``user`` may read."""
    names = conn.execute(select(entities.c.name).order_by(entities.c.name)).scalars()
    return [name for name in names if can_read(user, name)]
