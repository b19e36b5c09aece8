"""``python -m services.key_authority``: serve with settings from ZKFLPQ_* variables."""

from __future__ import annotations

from ..common.runner import serve_key_authority

if __name__ == "__main__":
    serve_key_authority()
