"""The key authority as the Flower strategy sees it: public key out, decrypted sums in.

The implementations run the existing key authority code and therefore live in
``services.flower`` (``HttpKeyAuthority`` for deployments, ``InProcessKeyAuthority`` for
simulation): zkflpq never imports services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["AcceptedUpdate", "KeyAuthority", "KeyAuthorityRefused"]


class KeyAuthorityRefused(Exception):
    def __init__(self, reason: str, detail: str = "", client_ids: list[str] | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.client_ids = client_ids or []


@dataclass(frozen=True)
class AcceptedUpdate:
    """What the key authority needs of one verified update (duck-types the aggregator's
    ``AcceptedRow``)."""

    client_id: str
    timestamp: int
    nonce: str
    proof_hash: str
    ciphertexts: bytes
    signature: bytes


class KeyAuthority(Protocol):
    params_name: str
    fingerprint: str
    bfv_pk_bytes: bytes
    bfv_pk_signature: bytes
    verify_key_bytes: bytes
    aggregator_id: str

    def decrypt(self, round_id: int, d: int, k: int, k_min: int,
                rows: list[AcceptedUpdate]) -> tuple[np.ndarray, int]: ...
