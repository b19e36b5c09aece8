"""The key authority (FastAPI): ``create_app(settings)``; ``zkflpq key-authority init|serve``
or ``python -m services.key_authority``."""

from .app import create_app

__all__ = ["create_app"]
