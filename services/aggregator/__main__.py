"""``python -m services.aggregator``: serve with settings from ZKFLPQ_* variables."""

from __future__ import annotations

from ..common.runner import serve_aggregator

if __name__ == "__main__":
    serve_aggregator()
