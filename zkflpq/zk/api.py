"""Convenience entry points: context strings and encrypt-and-prove for a float update."""

from __future__ import annotations

import math

import numpy as np

from ..bfv.encoder import Encoder, norm_bound
from ..bfv.scheme import Ciphertexts, PublicKey, encrypt_with_randomness
from ..ring import Csprng
from .errors import NormBoundExceeded, ProvingFailed
from .proof import NormProof
from .protocol import NormStatement, prove

__all__ = ["proof_context", "encrypt_and_prove", "CONTEXT_VERSION"]

CONTEXT_VERSION = "zkflpq/1"


def proof_context(protocol_version: str, aggregator_id: str, round_id: int | str,
                  client_id: str) -> bytes:
    """Unambiguous ctx bytes (spec §1 (C)): length-prefixed UTF-8 fields."""
    parts = [CONTEXT_VERSION, protocol_version, aggregator_id, str(round_id), client_id]
    out = b"".join(len(p.encode()).to_bytes(2, "little") + p.encode() for p in parts)
    return out


def encrypt_and_prove(public_key: PublicKey, update: np.ndarray, tau: float, scale: float,
                      context: bytes, rng: Csprng | None = None
                      ) -> tuple[Ciphertexts, NormProof, int]:
    """Quantise, encrypt and prove a float update with ‖update‖_2 ≤ τ.

    Returns (ciphertexts, proof, B) with B = floor(τ·scale). Raises NormBoundExceeded
    when ‖update‖ > τ: clip first; an honest client never proves an oversized update.
    """
    update = np.asarray(update, dtype=np.float64)
    if not np.all(np.isfinite(update)):
        raise ValueError("update contains NaN or infinity")
    if math.sqrt(float(np.dot(update, update))) > tau:
        raise NormBoundExceeded(f"update norm exceeds tau = {tau}: clip before proving")
    encoder = Encoder(public_key.params, scale, tau)
    bound = norm_bound(tau, scale)
    m = encoder.encode(update, rng)
    rng = rng or Csprng()
    for _ in range(8):
        ct, rand = encrypt_with_randomness(public_key, m, rng)
        statement = NormStatement(public_key.params, public_key, ct, bound, context)
        try:
            return ct, prove(statement, m, rand, rng), bound
        except ProvingFailed:
            continue  # noise above the public bound (probability < 2^-60): re-encrypt
    raise ProvingFailed("could not produce a proof")
