"""Aggregator FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from zkflpq.protocol import PROTOCOL_VERSION

from ..common.docs_page import install_docs_page
from ..common.http import install_common
from ..common.settings import AggregatorSettings
from .routers import clients, params, rounds, updates
from .service import AggregatorService


def create_app(settings: AggregatorSettings | None = None) -> FastAPI:
    settings = settings or AggregatorSettings()
    registry = CollectorRegistry()
    svc = AggregatorService(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.startup()
        try:
            yield
        finally:
            await svc.shutdown()

    app = FastAPI(
        title="zkflpq aggregator", version=PROTOCOL_VERSION, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # CDN-hosted UIs are blank offline: see docs_page
        description="Verifiable federated aggregation: every update's zero-knowledge norm "
                    "proof is verified before its BFV ciphertext is stored. Client bodies "
                    "are sealed (X-Wing / ML-KEM-768, HPKE-style) and signed (ML-DSA-65).")
    app.state.service = svc
    install_common(app, "aggregator", registry, settings.max_body_bytes)
    install_docs_page(app)
    for r in (params.router, clients.router, rounds.router, updates.router):
        app.include_router(r)
    return app
