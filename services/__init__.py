"""zkflpq network services: the aggregator and the key authority (FastAPI apps).

- :mod:`services.aggregator` — enrols clients, runs rounds, verifies every update's
  norm proof before storing it, and publishes the new global model.
- :mod:`services.key_authority` — holds the BFV secret key and decrypts, at most once
  per round and per ciphertext, sums of at least ``K_min`` ciphertexts signed for the
  requesting aggregator.
- :mod:`services.common` — wire protocol (sealed envelopes, signing messages), settings,
  logging, metrics and HTTP helpers shared by both, and by the client agent
  (:mod:`zkflpq.agent`).

Design: the README's service section; privacy claim: ``proofs/key-authority-privacy.md``.
"""

PROTOCOL_VERSION = "zkflpq/v1"

__all__ = ["PROTOCOL_VERSION"]
