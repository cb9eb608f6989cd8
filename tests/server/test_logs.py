"""``TRACKLET_LOG_FORMAT=json``: a live server writes one JSON object per log line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tracklet.cli import cli
from tracklet.testing import start_server


def test_json_logs_from_a_live_server(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"TRACKLET_LOG_FORMAT": "json"})
    try:
        text = server.log()
    finally:
        server.stop()
    docs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(d["message"].startswith("Application startup complete") for d in docs), text
    assert all({"time", "level", "logger", "message"} <= set(d) for d in docs)
    assert {d["logger"] for d in docs} & {"uvicorn.error", "uvicorn"}


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["server", "--data-dir", str(tmp_path)],
                                env={"TRACKLET_LOG_FORMAT": "xml"})
    assert result.exit_code == 2 and "TRACKLET_LOG_FORMAT must be one of text, json" \
        in result.output
