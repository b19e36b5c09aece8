"""zkflpq network services: the aggregator and the key authority (FastAPI apps).

- :mod:`services.aggregator` — enrols clients, runs rounds, verifies every update's
  norm proof before storing it, and publishes the new global model.
- :mod:`services.key_authority` — holds the BFV secret key and decrypts, at most once
  per round and per ciphertext, sums of at least ``K_min`` ciphertexts signed for the
  requesting aggregator.
- :mod:`services.common` — settings, logging, metrics and HTTP helpers shared by both;
  the wire protocol they share with the client agent is :mod:`zkflpq.protocol`.

Design: the README's service section; privacy claim: ``proofs/key-authority-privacy.md``.
"""

from zkflpq.protocol import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION"]
