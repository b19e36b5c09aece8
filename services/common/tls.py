"""TLS for the services: uvicorn's HTTPS options from the settings.

Admin calls carry a bearer token; client bodies are sealed end to end (X-Wing / ML-KEM,
signed with ML-DSA) whatever the transport, but the token, round metadata and the
request pattern are only protected on the wire by TLS. Set ``ZKFLPQ_TLS_CERTFILE`` and
``ZKFLPQ_TLS_KEYFILE`` (PEM; both or neither, validated by
:class:`~services.common.settings.ServiceSettings`) and the runner serves HTTPS.
"""

from __future__ import annotations

from typing import Any

from .settings import ServiceSettings

__all__ = ["service_scheme", "uvicorn_tls_kwargs"]


def uvicorn_tls_kwargs(settings: ServiceSettings) -> dict[str, Any]:
    """``{"ssl_certfile": …, "ssl_keyfile": …}`` for ``uvicorn.run``/``uvicorn.Config``
    when TLS is configured, else ``{}`` (plain HTTP)."""
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        return {}
    return {"ssl_certfile": str(settings.tls_certfile), "ssl_keyfile": str(settings.tls_keyfile)}


def service_scheme(settings: ServiceSettings) -> str:
    """``"https"`` when the settings serve TLS, else ``"http"``."""
    return "https" if uvicorn_tls_kwargs(settings) else "http"
