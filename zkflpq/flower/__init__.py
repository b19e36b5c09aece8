"""zkflpq for Flower (optional extra ``flower``, tested with ``flwr==1.42.0``).

- :func:`zkflpq_mod` / :func:`make_zkflpq_mod` (client, :mod:`.mod`): replaces the
  ClientApp's plaintext train reply by BFV ciphertexts + norm proof + ML-DSA signature.
- :class:`ZkflpqStrategy` (ServerApp, :mod:`.strategy`): wraps a Flower strategy; verifies
  every proof, has the key authority decrypt the sum of ≥ K_min accepted updates, hands
  the decrypted mean to the inner strategy.
- the key authority the strategy talks to: the :class:`.key_authority.KeyAuthority`
  protocol here; its implementations, which run the key authority service, in
  ``services.flower`` (``HttpKeyAuthority``, ``InProcessKeyAuthority``).
- :mod:`.keys`: ML-DSA key files per SuperNode; :mod:`.demo`: the ``run_simulation`` demo
  behind ``zkflpq flower-demo``.

Nothing in this package imports ``services`` (services import zkflpq, never the reverse).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "zkflpq_mod": "mod",
    "make_zkflpq_mod": "mod",
    "ZkflpqStrategy": "strategy",
    "RoundOutcome": "strategy",
    "KeyAuthorityRefused": "key_authority",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
