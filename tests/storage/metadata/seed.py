"""Rows written with plain SQL into a database migrated to an old revision (the ORM-free way
migration tests set up the data they then carry across a migration)."""

from __future__ import annotations

from sqlalchemy import Connection, text


def insert_runs(conn: Connection, run_ids: tuple[int, ...], history_line_count: int) -> None:
    """Entity 1, project 1 and running runs with these ids, as revision 0001 defines them."""
    conn.execute(text("INSERT INTO entities(id, name, is_team, created_at) "
                      "VALUES (1, 'e', false, 0)"))
    conn.execute(text("INSERT INTO projects(id, entity_id, name, created_at, updated_at) "
                      "VALUES (1, 1, 'p', 0, 0)"))
    for run_id in run_ids:
        conn.execute(text(
            "INSERT INTO runs(id, project_id, name, state, config, summary, system_metrics, "
            "tags, created_at, updated_at, heartbeat_at, history_line_count, "
            "events_line_count, log_line_count) "
            "VALUES (:id, 1, :name, 'running', '{}', '{}', '{}', '[]', 0, 0, 0, :n, 0, 0)"),
            {"id": run_id, "name": f"r{run_id}", "n": history_line_count})
