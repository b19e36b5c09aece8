"""The aggregation service (FastAPI): ``create_app(settings)``; run with
``zkflpq aggregator serve`` or ``python -m services.aggregator``."""

from .app import create_app

__all__ = ["create_app"]
