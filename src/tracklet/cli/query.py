"""``tracklet query "SQL"``: one SQL console statement against a server, printed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from tracklet.sql_client import QueryError, fetch

FORMATS = ("table", "csv", "json", "parquet")
#: Widest a column is printed in ``--format table`` (longer values end in "...").
MAX_WIDTH = 40


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value == int(value) \
            and abs(value) < 1e16:
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def render_table(names: list[str], rows: list[list[Any]]) -> str:
    """Rows as an aligned text table with a header rule."""
    cells = [[_clip(_text(v)) for v in row] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _clip(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_WIDTH else text[:MAX_WIDTH - 3] + "..."


def render_csv(names: list[str], rows: list[list[Any]]) -> str:
    """Rows as CSV with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([_text(v) for v in row] for row in rows)
    return out.getvalue()


def render_json(names: list[str], rows: list[list[Any]]) -> str:
    """Rows as a JSON array of objects (non-finite floats as "NaN"/"Infinity" strings)."""
    records = [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in rows]
    return orjson.dumps(records, default=str, option=orjson.OPT_INDENT_2).decode()


@click.command("query")
@click.argument("sql")
@click.option("--url", envvar="WANDB_BASE_URL", required=True,
              help="Server URL (default WANDB_BASE_URL).")
@click.option("--key", envvar="WANDB_API_KEY", required=True,
              help="API key (default WANDB_API_KEY).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="How to print the rows.")
@click.option("--scope", default=None, help="Only runs of ENTITY or ENTITY/PROJECT.")
@click.option("--max-rows", type=int, default=None,
              help="Fewer rows than the server's limit.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write to this file (required for parquet).")
def query_command(sql: str, url: str, key: str, fmt: str, scope: str | None,
                  max_rows: int | None, output: Path | None) -> None:
    """Run one SQL SELECT over the runs you may read (views runs, history, system_metrics,
    artifacts) and print the rows. A cut answer (past the row limit) says so on stderr."""
    try:
        answer = fetch(sql, url=url, key=key, scope=scope, max_rows=max_rows)
    except QueryError as exc:
        raise click.ClickException(f"{exc.message} (HTTP {exc.status})") from None
    table = answer.table
    if fmt == "parquet":
        if output is None:
            raise click.UsageError("--format parquet needs --output FILE")
        import pyarrow.parquet as pq

        pq.write_table(table, output)
    else:
        names = table.column_names
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        rows = [list(r) for r in zip(*columns, strict=True)]
        render = {"table": render_table, "csv": render_csv, "json": render_json}[fmt]
        text = render(names, rows)
        if output is not None:
            output.write_text(text if text.endswith("\n") else text + "\n")
        else:
            click.echo(text.rstrip("\n"))
    if answer.truncated:
        click.echo(f"(cut at the row limit of {answer.row_limit} rows; aggregate in SQL or "
                   "add a LIMIT)", err=True)
    elif fmt == "table" and output is None:
        click.echo(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})", err=True)
    sys.stdout.flush()
