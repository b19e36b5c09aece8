"""Run a service under uvicorn with structured, secret-free logging."""

from __future__ import annotations

from typing import Any

import uvicorn

from .logs import configure_logging, register_secret, uvicorn_log_config
from .settings import AggregatorSettings, KeyAuthoritySettings, ServiceSettings
from .timeouts import protocol_class

__all__ = ["serve_aggregator", "serve_key_authority"]


def _run(app: Any, settings: ServiceSettings) -> None:
    # Always h11 (even where httptools is installed): its protocol class carries the
    # header and body read timeouts that uvicorn itself lacks.
    http = protocol_class(settings.header_timeout_s, settings.body_timeout_s)
    uvicorn.run(app, host=settings.host, port=settings.port, http=http,
                log_config=uvicorn_log_config(), access_log=False,
                timeout_graceful_shutdown=10, h11_max_incomplete_event_size=256 * 1024)


def serve_aggregator(settings: AggregatorSettings | None = None) -> None:
    from ..aggregator.app import create_app

    settings = settings or AggregatorSettings()
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    configure_logging("aggregator", settings.log_level, settings.log_json, [token])
    app = create_app(settings)
    register_secret(app.state.service.admin_token)
    _run(app, settings)


def serve_key_authority(settings: KeyAuthoritySettings | None = None) -> None:
    from ..key_authority.app import create_app

    settings = settings or KeyAuthoritySettings()
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    configure_logging("key-authority", settings.log_level, settings.log_json, [token])
    app = create_app(settings)
    register_secret(app.state.service.admin_token)
    _run(app, settings)
