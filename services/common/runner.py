"""Run a service under uvicorn with structured, secret-free logging."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import uvicorn

from .logs import configure_logging, register_secret, uvicorn_log_config
from .settings import AggregatorSettings, KeyAuthoritySettings, ServiceSettings
from .timeouts import protocol_class
from .tls import uvicorn_tls_kwargs

__all__ = ["serve_aggregator", "serve_key_authority"]

log = logging.getLogger("zkflpq.service")


def _run(app: Any, settings: ServiceSettings) -> None:
    # Always h11 (even where httptools is installed): its protocol class carries the
    # header and body read timeouts that uvicorn itself lacks.
    http = protocol_class(settings.header_timeout_s, settings.body_timeout_s)
    uvicorn.run(app, host=settings.host, port=settings.port, http=http,
                log_config=uvicorn_log_config(), access_log=False,
                timeout_graceful_shutdown=10, h11_max_incomplete_event_size=256 * 1024,
                **uvicorn_tls_kwargs(settings))


def _token_source(settings: ServiceSettings) -> tuple[str, dict[str, str]]:
    """Where the admin token comes from (decided before the service may create it): a
    token silently generated in one shell while the operator exported another in a
    different one is the commonest 403."""
    path = Path(settings.data_dir) / "admin.token"
    if settings.admin_token:
        return "admin token from ZKFLPQ_ADMIN_TOKEN", {}
    if path.exists():
        return "admin token from file", {"path": str(path)}
    return "no admin token configured: generated one", {
        "path": str(path), "hint": f"admin commands need --token-file {path}"}


def _log_token_source(source: tuple[str, dict[str, str]]) -> None:
    msg, fields = source
    (log.warning if msg.startswith("no admin") else log.info)(msg, extra={"fields": fields})


def serve_aggregator(settings: AggregatorSettings | None = None) -> None:
    """Raises :class:`~services.aggregator.ka_client.KaError` when the key authority does
    not answer within ``key_authority_wait_s`` (before uvicorn starts, so Ctrl-C works
    while waiting)."""
    from ..aggregator.app import create_app

    settings = settings or AggregatorSettings()
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    configure_logging("aggregator", settings.log_level, settings.log_json, [token])
    source = _token_source(settings)
    app = create_app(settings)
    register_secret(app.state.service.admin_token)
    _log_token_source(source)
    app.state.service.ka.load(wait_s=settings.key_authority_wait_s)
    _run(app, settings)


def serve_key_authority(settings: KeyAuthoritySettings | None = None) -> None:
    from ..key_authority.app import create_app

    settings = settings or KeyAuthoritySettings()
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    configure_logging("key-authority", settings.log_level, settings.log_json, [token])
    source = _token_source(settings)
    app = create_app(settings)
    register_secret(app.state.service.admin_token)
    _log_token_source(source)
    _run(app, settings)
