"""zkflpq for Flower (optional extra ``flower``, tested with ``flwr==1.42.0``).

- :func:`zkflpq_mod` / :func:`make_zkflpq_mod` (client, :mod:`.mod`): replaces the
  ClientApp's plaintext train reply by BFV ciphertexts + norm proof + ML-DSA signature.
- :class:`ZkflpqStrategy` (ServerApp, :mod:`.strategy`): wraps a Flower strategy; verifies
  every proof, has the key authority decrypt the sum of ≥ K_min accepted updates, hands
  the decrypted mean to the inner strategy.
- :class:`InProcessKeyAuthority` / :class:`HttpKeyAuthority` (:mod:`.key_authority`).
- :mod:`.keys`: ML-DSA key files per SuperNode; :mod:`.demo`: ``run_simulation`` demo.

The client side (:mod:`.mod`, :mod:`.wire`, :mod:`.keys`) never imports ``services``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "zkflpq_mod": "mod",
    "make_zkflpq_mod": "mod",
    "ZkflpqStrategy": "strategy",
    "RoundOutcome": "strategy",
    "InProcessKeyAuthority": "key_authority",
    "HttpKeyAuthority": "key_authority",
    "KeyAuthorityRefused": "key_authority",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
