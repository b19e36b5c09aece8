"""One-line failures for the command line (no tracebacks for operator mistakes).

Exit statuses, the same for every command: 0 success, 1 an error (bad input, a service
unreachable or refusing, nothing to do in time), 2 a usage error (argparse), 3 the work
was done but refused or failed (an update rejected, a round that failed to close),
130 interrupted.
"""

from __future__ import annotations

import sys

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_REFUSED", "CliError", "describe"]

EXIT_ERROR = 1
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the operator can fix; printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def describe(exc: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit status) for an expected failure, None for a bug (which
    keeps its traceback)."""
    if isinstance(exc, CliError):
        return str(exc), exc.code
    transport = sys.modules.get("zkflpq.agent.transport")
    if transport is not None and isinstance(exc, transport.ProtocolError):
        return str(exc) + _hint(exc), EXIT_ERROR
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(exc, pydantic.ValidationError):
        fields = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'settings'}: {e['msg']}"
                           for e in exc.errors())
        return f"invalid setting: {fields}", EXIT_ERROR
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}", EXIT_ERROR
    if isinstance(exc, OSError):
        return (f"{exc.strerror}: {exc.filename}" if exc.filename and exc.strerror
                else str(exc)), EXIT_ERROR
    return None


def _hint(exc: object) -> str:
    status, detail = getattr(exc, "status", 0), str(getattr(exc, "detail", ""))
    if status in (401, 403) and "admin" in detail:
        return (" — check the admin token given for that service (--token-file for the "
                "aggregator, --key-authority-token-file for the key authority, or "
                "ZKFLPQ_ADMIN_TOKEN for both)")
    return ""
