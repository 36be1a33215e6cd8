"""Process logging: readable lines by default, one JSON object per line with
``JOURNEYS_LOG_FORMAT=json`` (for a log collector: time, level, logger, message, and
the exception when there is one). Every line, whoever logged it, leaves with the passwords
of the URLs in it masked (``journeys.process.redact``)."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from journeys.process.redact import redact


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if os.environ.get("JOURNEYS_LOG_FORMAT", "").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("temporalio").setLevel(logging.WARNING)
