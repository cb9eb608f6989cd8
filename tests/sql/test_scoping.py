"""A user's statements see only the runs that user may read, whatever they say: counts,
joins, subqueries, catalog and table functions see only their own views; file access,
ATTACH, COPY, INSTALL/LOAD, PRAGMA, SET and several statements are refused with a clear
error. On SQLite + local files and PostgreSQL + S3."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sql.writer import RunWriter
from tests.support.app import InProcessApp
from tracklet.storage.history.export.table import get_exports
from tracklet.storage.metadata import runs as run_repo


@pytest.fixture
def two_users(app: InProcessApp) -> tuple[str, str]:
    """alice with a compacted and a live run, bob with one live run; their keys."""
    _alice, alice_key = app.storage.create_user("alice")
    _bob, bob_key = app.storage.create_user("bob")
    done = RunWriter(app, "alice", "secret", "a1", config={"lr": 1e-4}, key=alice_key)
    done.log([{"_step": i, "loss": 1.0 / (i + 1)} for i in range(20)])
    done.system([{"system.cpu": 50.0, "_timestamp": 1.0}])
    done.finish(summary={"loss": 0.05})
    live = RunWriter(app, "alice", "secret", "a2", key=alice_key)
    live.log([{"_step": i, "loss": 2.0} for i in range(5)])
    mine = RunWriter(app, "bob", "own", "b1", config={"lr": 0.1}, key=bob_key)
    mine.log([{"_step": i, "acc": i} for i in range(3)])
    return alice_key, bob_key


def ask(app: InProcessApp, key: str, sql: str, **body: Any) -> Any:
    return app.client.post("/api/v1/query",
                           json={"sql": sql, **body}, auth=("api", key))


def rows(app: InProcessApp, key: str, sql: str) -> list[list[Any]]:
    response = ask(app, key, sql)
    assert response.status_code == 200, response.text
    return list(response.json()["rows"])


def _export_path(app: InProcessApp) -> str:
    with app.storage.db.read() as conn:
        run_id = run_repo.get_run_by_path(conn, "alice", "secret", "a1").id
        export = get_exports(conn, run_id)[0]
    return export.blob_key


def test_each_user_sees_only_their_runs(app: InProcessApp, two_users: tuple[str, str]) -> None:
    alice, bob = two_users
    assert rows(app, bob, "SELECT run FROM runs") == [["bob/own/b1"]]
    assert rows(app, alice, "SELECT run FROM runs ORDER BY run") == [
        ["alice/secret/a1"], ["alice/secret/a2"]]
    assert rows(app, bob, "SELECT count(*) FROM history") == [[3]]
    assert rows(app, bob, "SELECT count(*) FROM history WHERE run LIKE 'alice/%'") == [[0]]
    assert rows(app, bob, "SELECT count(*) FROM system_metrics") == [[0]]
    assert rows(app, alice, "SELECT count(*) FROM system_metrics") == [[1]]
    # Joins, subqueries, set operations and CTEs range over the same views.
    assert rows(app, bob, "SELECT count(*) FROM history h JOIN runs r USING (run)") == [[3]]
    assert rows(app, bob, "SELECT count(*) FROM runs WHERE run IN "
                          "(SELECT run FROM history WHERE acc IS NOT NULL)") == [[1]]
    # Not even the name of alice's metric is there.
    response = ask(app, bob, "SELECT count(*) FROM history WHERE loss IS NOT NULL")
    assert response.status_code == 400 and '"loss" not found' in response.json()["error"]
    assert rows(app, bob, "WITH x AS (SELECT run FROM runs UNION ALL SELECT run FROM history) "
                          "SELECT DISTINCT run FROM x") == [["bob/own/b1"]]


def test_catalog_and_table_functions_show_only_the_views(
        app: InProcessApp, two_users: tuple[str, str]) -> None:
    _alice, bob = two_users
    tables = rows(app, bob, "SELECT table_name FROM duckdb_tables() ORDER BY 1")
    assert tables == [["artifacts"], ["history"], ["runs"], ["system_metrics"]]
    assert rows(app, bob, "SELECT count(*) FROM query_table('runs')") == [[1]]
    assert rows(app, bob, "SELECT count(*) FROM query('SELECT * FROM history')") == [[3]]
    assert rows(app, bob, "SELECT count(*) FROM duckdb_databases() "
                          "WHERE NOT internal") == [[1]]
    # No column of another user's metric, even through a catalog.
    columns = rows(app, bob, "SELECT column_name FROM information_schema.columns "
                             "WHERE table_name = 'history'")
    assert ["loss"] not in columns and ["acc"] in columns


@pytest.mark.parametrize(("sql", "status", "message"), [
    ("SELECT * FROM read_csv('/etc/passwd')", 403, "disabled by configuration"),
    ("SELECT * FROM read_text('/etc/hostname')", 403, "disabled by configuration"),
    ("SELECT * FROM glob('/**')", 403, "disabled by configuration"),
    ("SELECT * FROM read_parquet('{export}')", 403, "disabled by configuration"),
    ("SELECT * FROM read_parquet('{blobs}/{export}')", 403, "disabled by configuration"),
    ("ATTACH '{blobs}/../tracklet.db' AS meta", 400, "only SELECT statements"),
    ("COPY runs TO '/tmp/leak.csv'", 400, "only SELECT statements"),
    ("INSTALL httpfs", 400, "only SELECT statements"),
    ("LOAD httpfs", 400, "only SELECT statements"),
    ("PRAGMA database_list", 400, "only SELECT statements"),
    ("SET enable_external_access = true", 400, "only SELECT statements"),
    ("RESET enable_external_access", 400, "only SELECT statements"),
    ("CREATE TABLE t AS SELECT 1", 400, "only SELECT statements"),
    ("SELECT 1; SELECT * FROM read_csv('/etc/passwd')", 400, "one statement at a time"),
    ("SELECT 1; ATTACH ':memory:'", 400, "one statement at a time"),
    ("EXPLAIN ANALYZE SELECT 1", 400, "only SELECT statements"),
    ("CALL pragma_version()", 400, "only SELECT statements"),
    ("SELECT * FROM sniff_csv('/etc/passwd')", 403, "disabled by configuration"),
    ("SELECT current_setting('enable_external_access') AND false", 200, ""),
    ("SELECT * FROM duckdb_extensions()", 403, "disabled by configuration"),
    ("SELECT * FROM secret_table", 400, "does not exist"),
    ("SELEC 1", 400, "SQL error"),
    ("SELECT nope FROM runs", 400, "SQL error"),
])
def test_refused_statements(app: InProcessApp, two_users: tuple[str, str], sql: str,
                            status: int, message: str) -> None:
    _alice, bob = two_users
    blobs = str(app.settings.resolved_data_dir / "blobs")
    response = ask(app, bob, sql.format(export=_export_path(app), blobs=blobs))
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["rows"] in ([], [[False]])
    else:
        assert message in response.json()["error"]


def test_a_scope_outside_what_the_user_may_read_is_not_found(
        app: InProcessApp, two_users: tuple[str, str]) -> None:
    alice, bob = two_users
    assert ask(app, bob, "SELECT * FROM runs", scope="alice").status_code == 404
    assert ask(app, bob, "SELECT * FROM runs", scope="alice/secret").status_code == 404
    response = ask(app, alice, "SELECT run FROM runs", scope="alice/secret")
    assert response.status_code == 200 and len(response.json()["rows"]) == 2
    response = ask(app, alice, "SELECT run FROM runs", scope="alice/none")
    assert response.status_code == 200 and response.json()["rows"] == []
    assert ask(app, alice, "SELECT 1", scope="a/b/c").status_code == 400


def test_the_admin_reads_every_entity(app: InProcessApp, two_users: tuple[str, str]) -> None:
    response = app.client.post("/api/v1/query",
                               json={"sql": "SELECT entity, count(*) FROM runs GROUP BY 1 "
                                            "ORDER BY 1"})
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [["alice", 2], ["bob", 1]]


def test_team_visibility_decides_per_project(app: InProcessApp) -> None:
    """A team's PRIVATE project is its admins' only; a project open to the organization is
    read by the organization's members: the console sees exactly what the policy allows."""
    from tracklet.storage import teams

    storage = app.storage
    keys = {n: storage.create_user(n)[1] for n in ("ada", "ben", "dee")}
    teams.create_org(storage, "acme")
    teams.set_org_member(storage, "acme", "dee", teams.parse_role("member"))
    teams.create_team(storage, "ml", org="acme", admin="ada")
    teams.set_team_member(storage, "ml", "ben", teams.parse_role("member"))
    for project in ("open", "secret", "team"):
        RunWriter(app, "ml", project, "r1", key=keys["ada"]).log([{"_step": 0, "x": 1.0}])
    teams.set_project_access(storage, "ml", "secret", teams.parse_visibility("PRIVATE"))
    teams.set_project_access(storage, "ml", "open", teams.parse_visibility("ORGANIZATION"))
    sql = "SELECT run FROM runs ORDER BY run"
    assert rows(app, keys["ada"], sql) == [["ml/open/r1"], ["ml/secret/r1"], ["ml/team/r1"]]
    assert rows(app, keys["ben"], sql) == [["ml/open/r1"], ["ml/team/r1"]]
    assert rows(app, keys["dee"], sql) == [["ml/open/r1"]]
    assert rows(app, keys["ben"], "SELECT count(*) FROM history WHERE run LIKE '%secret%'") \
        == [[0]]
