"""The platform's log lines: plain text, or one JSON object per line for a log pipeline.

`kiosk platform serve --log-format json` hands uvicorn `log_config("json")`: uvicorn applies it
in every worker process it starts (a `logging.config.dictConfig` dictionary), so each worker
writes JSON lines to stderr, its own and uvicorn's.

A JSON line has `time` (UTC, ISO 8601, milliseconds), `level`, `logger` and `event` (the
formatted message), and then only the structured fields a log call passes by name in
`FIELDS` (`extra={...}`): the boundary's one line per request (kiosk.platform.edge.Edge)
passes method, endpoint, provider, terminal, status, reason and ms; the kiosk's events
(kiosk.services.event_log, `kiosk --log-format json` or under systemd's journal) pass
provider, terminal, outcome and reason. Any other extra is dropped:
an allow-list, so a body, a token, a PIN or the 4 info passed by mistake never reaches a line.
An exception is named by its type only: its message and traceback may quote the values that
failed. JSON escapes every control character, so a line is always one line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Final, Literal

__all__ = ["FIELDS", "PLAIN_FORMAT", "JsonFormatter", "LogFormat", "log_config"]

LogFormat = Literal["plain", "json"]

#: The structured fields a JSON line may carry besides time, level, logger and event.
FIELDS: Final = (
    "method",
    "endpoint",
    "provider",
    "terminal",
    "status",
    "reason",
    "ms",
    "outcome",
)
#: The plain text line (as `kiosk`'s own command line logs).
PLAIN_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the allowed structured fields only."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = record.__dict__
        for name in FIELDS:
            value = fields.get(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                line[name] = value
        if record.exc_info is not None and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=True, separators=(",", ":"))


def log_config(fmt: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary (uvicorn's `log_config`): every record to
    stderr in `fmt`, uvicorn's loggers through the same handler, alembic's at WARNING."""
    formatter: dict[str, Any] = (
        {"()": "kiosk.platform.logs.JsonFormatter"} if fmt == "json" else {"format": PLAIN_FORMAT}
    )
    through_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {**through_root, "level": level},
            "uvicorn.error": {**through_root, "level": level},
            "uvicorn.access": {**through_root, "level": level},
            "alembic": {**through_root, "level": "WARNING"},
        },
    }
