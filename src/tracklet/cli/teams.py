"""``tracklet org``, ``tracklet team``, ``tracklet project access``, ``tracklet user list``
and ``tracklet audit``: the command line runs as the server's owner (no policy check), and
every change is written to the audit log."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracklet.cli.options import fail_cleanly, settings, store_options

if TYPE_CHECKING:
    from tracklet.storage import Storage

_ROLES = click.Choice(["admin", "member", "viewer"], case_sensitive=False)


@contextlib.contextmanager
def _store(data_dir: Path | None, db: str | None, blobs: str | None) -> Iterator[Storage]:
    from tracklet.storage import Storage

    storage = Storage.open(settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        yield storage
    finally:
        storage.close()


def _when(ts: float) -> str:
    return f"{datetime.datetime.fromtimestamp(ts, datetime.UTC):%Y-%m-%d %H:%M:%S} UTC"


@click.group()
def org() -> None:
    """Manage organizations (teams belong to one; members read what is open to it)."""


@org.command("create")
@click.argument("name")
@store_options
@fail_cleanly
def org_create(name: str, data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """Create organization NAME."""
    from tracklet.storage import teams

    with _store(data_dir, db, blobs) as storage:
        teams.create_org(storage, name)
    click.echo(f"organization {name!r} created")


@org.command("list")
@click.argument("name", required=False)
@store_options
@fail_cleanly
def org_list(name: str | None, data_dir: Path | None, db: str | None,
             blobs: str | None) -> None:
    """List organizations, or the members of organization NAME with their roles."""
    from tracklet.storage import teams
    from tracklet.storage.metadata import teams as repo

    with _store(data_dir, db, blobs) as storage:
        if name is None:
            with storage.db.read() as conn:
                for o in repo.list_orgs(conn):
                    click.echo(o.name)
            return
        for m in teams.org_members(storage, name):
            click.echo(f"{m.user.username}\t{m.role.value}")


@click.group()
def team() -> None:
    """Manage teams: entities with members, each an admin, member or viewer."""


@team.command("create")
@click.argument("name")
@click.option("--admin", "admin_user", required=True, help="The team's first admin.")
@click.option("--org", "org_name", default=None, help="The organization it belongs to.")
@store_options
@fail_cleanly
def team_create(name: str, admin_user: str, org_name: str | None, data_dir: Path | None,
                db: str | None, blobs: str | None) -> None:
    """Create team NAME with a first admin."""
    from tracklet.storage import teams

    with _store(data_dir, db, blobs) as storage:
        teams.create_team(storage, name, org=org_name, admin=admin_user)
    click.echo(f"team {name!r} created, admin {admin_user!r}")


@team.command("list")
@click.argument("name", required=False)
@store_options
@fail_cleanly
def team_list(name: str | None, data_dir: Path | None, db: str | None,
              blobs: str | None) -> None:
    """List teams, or the members of team NAME with their roles."""
    from tracklet.storage import teams
    from tracklet.storage.metadata import teams as repo

    with _store(data_dir, db, blobs) as storage:
        if name is None:
            with storage.db.read() as conn:
                for t in repo.list_teams(conn):
                    org = repo.org_by_id(conn, t.org_id).name if t.org_id else "-"
                    click.echo(f"{t.name}\t{org}")
            return
        for m in teams.team_members(storage, name):
            kind = "service" if m.user.service_account else "user"
            click.echo(f"{m.user.username}\t{m.role.value}\t{kind}")


@team.command("service-account")
@click.argument("name")
@click.argument("description")
@store_options
@fail_cleanly
def team_service_account(name: str, description: str, data_dir: Path | None,
                         db: str | None, blobs: str | None) -> None:
    """Create a service account of team NAME and print its API key (shown once)."""
    from tracklet.storage import teams

    with _store(data_dir, db, blobs) as storage:
        user, key = teams.create_service_account(storage, name, description)
    click.echo(f"service account {user.username!r}", err=True)
    click.echo(key)


@click.group()
def project() -> None:
    """Manage projects."""


@project.command("access")
@click.argument("path")
@click.argument("visibility", type=click.Choice(["PRIVATE", "TEAM", "ORGANIZATION"],
                                                case_sensitive=False))
@store_options
@fail_cleanly
def project_access(path: str, visibility: str, data_dir: Path | None, db: str | None,
                   blobs: str | None) -> None:
    """Set who sees project PATH (ENTITY/PROJECT): PRIVATE (the entity's admins), TEAM
    (every member; the default) or ORGANIZATION (also read by the organization)."""
    from tracklet.storage import teams

    entity, sep, name = path.partition("/")
    if not sep:
        raise click.UsageError("PATH is ENTITY/PROJECT")
    with _store(data_dir, db, blobs) as storage:
        teams.set_project_access(storage, entity, name, teams.parse_visibility(visibility))
    click.echo(f"{path} is {visibility.upper()}")


@click.command("list")
@store_options
@fail_cleanly
def user_list(data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """List users: name, kind (admin, user, service) and teams with roles."""
    from tracklet.storage.metadata import teams as repo

    with _store(data_dir, db, blobs) as storage, storage.db.read() as conn:
        for u in repo.list_users(conn, limit=100_000):
            kind = "admin" if u.admin else "service" if u.service_account else "user"
            member_of = ",".join(f"{e.name}:{r.value}" for e, r in repo.teams_of(conn, u.id))
            click.echo(f"{u.username}\t{kind}\t{member_of or '-'}")


@click.command("admin")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Take the admin rights away instead.")
@store_options
@fail_cleanly
def user_admin(name: str, revoke: bool, data_dir: Path | None, db: str | None,
               blobs: str | None) -> None:
    """Give user NAME server admin rights (or --revoke them; the last admin keeps them)."""
    from tracklet.storage import teams

    with _store(data_dir, db, blobs) as storage:
        teams.set_server_admin(storage, name, not revoke)
    click.echo(f"{name!r} is {'no longer ' if revoke else ''}a server admin")


@click.command("audit")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@store_options
@fail_cleanly
def audit(limit: int, data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """Show the newest administrative actions (users, keys, teams, roles, visibility,
    deletes)."""
    from tracklet.storage import teams

    with _store(data_dir, db, blobs) as storage:
        entries = teams.audit_entries(storage, limit=limit)
    for e in entries:
        click.echo(f"{_when(e.created_at)}\t{e.actor or '(cli)'}\t{e.action}\t{e.target}"
                   f"\t{e.detail or ''}")


def register(cli: click.Group) -> None:
    """Add these commands to the ``tracklet`` group (``user list`` to its ``user``)."""
    for command in (org, team, project, audit):
        cli.add_command(command)
    user_group = cli.commands["user"]
    assert isinstance(user_group, click.Group)
    user_group.add_command(user_list)
    user_group.add_command(user_admin)


def _membership_commands(group: click.Group, noun: str, note: str, set_member: str,
                         remove_member: str) -> None:
    """``add`` and ``remove`` for the members of a team or an organization, calling the
    :mod:`tracklet.storage.teams` functions named (imported late: the CLI starts fast)."""

    @group.command("add", help=f"Add USERNAME to {noun} NAME with a role (or change their "
                   f"role).{note}")
    @click.argument("name")
    @click.argument("username")
    @click.option("--role", type=_ROLES, default="member", show_default=True)
    @store_options
    @fail_cleanly
    def add(name: str, username: str, role: str, data_dir: Path | None, db: str | None,
            blobs: str | None) -> None:
        from tracklet.storage import teams

        with _store(data_dir, db, blobs) as storage:
            getattr(teams, set_member)(storage, name, username, teams.parse_role(role))
        click.echo(f"{username!r} is {role} of {noun} {name!r}")

    @group.command("remove", help=f"Take USERNAME out of {noun} NAME.")
    @click.argument("name")
    @click.argument("username")
    @store_options
    @fail_cleanly
    def remove(name: str, username: str, data_dir: Path | None, db: str | None,
               blobs: str | None) -> None:
        from tracklet.storage import teams

        with _store(data_dir, db, blobs) as storage:
            getattr(teams, remove_member)(storage, name, username)
        click.echo(f"{username!r} removed from {noun} {name!r}")


_membership_commands(org, "organization", " Its admins administer every team of the "
                     "organization.", "set_org_member", "remove_org_member")
_membership_commands(team, "team", "", "set_team_member", "remove_team_member")
