"""Key-authority FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from zkflpq.protocol import PROTOCOL_VERSION

from ..common.docs_page import install_docs_page
from ..common.http import install_common
from ..common.settings import KeyAuthoritySettings
from .routers.all import aggregators, clients, decryptions, params
from .service import KeyAuthorityService


def create_app(settings: KeyAuthoritySettings | None = None) -> FastAPI:
    settings = settings or KeyAuthoritySettings()
    registry = CollectorRegistry()
    svc = KeyAuthorityService(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.startup()
        try:
            yield
        finally:
            await svc.shutdown()

    app = FastAPI(title="zkflpq key authority", version=PROTOCOL_VERSION, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # CDN-hosted UIs are blank offline
                  description="Holds the BFV secret key; decrypts only sums of at least K_min "
                              "signed ciphertexts, once per round, with an audit log.")
    app.state.service = svc
    install_common(app, "key-authority", registry, settings.max_body_bytes)
    install_docs_page(app)
    for r in (params, clients, aggregators, decryptions):
        app.include_router(r)
    return app
