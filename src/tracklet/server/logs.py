"""Server log output: uvicorn's text lines, or one JSON object per line for log shippers
(``TRACKLET_LOG_FORMAT=json``)."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` plus ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def log_config(fmt: str, level: str) -> dict[str, Any] | None:
    """A ``logging.config.dictConfig`` for uvicorn and tracklet's loggers (None: uvicorn's
    own text format)."""
    if fmt == "text":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "stream": "ext://sys.stderr"}
    loggers = {name: {"handlers": ["default"], "level": level.upper(), "propagate": False}
               for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "tracklet")}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {"default": handler}, "loggers": loggers}
