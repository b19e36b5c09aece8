"""Structured (JSON-lines) logging that never contains secrets or tokens.

- Every record is one JSON object: ts, level, logger, msg, and the ``extra`` fields
  passed by the caller (``log.info("accepted", extra={"fields": {...}})``).
- :class:`RedactFilter` scrubs, from the message and every field, bearer tokens, the
  configured admin token(s) and any field whose name looks secret (token, secret,
  password, authorization, key material). It is installed on the root handler, so
  uvicorn's own records pass through it too.
- Request logging is done by the apps themselves (method, path, status, ms); headers are
  never logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

__all__ = ["JsonFormatter", "RedactFilter", "configure_logging", "uvicorn_log_config"]

_SECRET_FIELD = re.compile(r"(token|secret|password|authori[sz]ation|private|cookie)", re.I)
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_REDACTED = "[REDACTED]"
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Make the filter scrub this exact value wherever it would appear."""
    if value and len(value) >= 6:
        _secrets.add(value)


def _scrub(text: str) -> str:
    text = _BEARER.sub("Bearer " + _REDACTED, text)
    for s in _secrets:
        if s in text:
            text = text.replace(s, _REDACTED)
    return text


def _scrub_value(key: str, value: Any) -> Any:
    if _SECRET_FIELD.search(key):
        return _REDACTED
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(key, v) for v in value]
    return value


class RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not kill logging
            msg = str(record.msg)
        record.msg = _scrub(msg)
        record.args = ()
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: _scrub_value(str(k), v) for k, v in fields.items()}
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "zkflpq") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
            out["exc"] = _scrub(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = getattr(record, "fields", None)
        extra = ""
        if isinstance(fields, dict) and fields:
            extra = " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{base} {record.levelname:5s} {record.name}: {record.getMessage()}{extra}"


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True,
                      secrets: Iterable[str | None] = ()) -> None:
    for s in secrets:
        register_secret(s)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_lines else _PlainFormatter())
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    # uvicorn's access log repeats what the apps log (without timings): keep it quiet.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def uvicorn_log_config() -> dict[str, Any]:
    """A log config that leaves everything to the root handler set up above."""
    return {"version": 1, "disable_existing_loggers": False, "loggers": {}}
