"""The client's cryptographic pipeline, with no transport in it.

clip → quantise → encrypt → prove (:func:`prepare_update`), then sign
(:func:`sign_update`). The REST agent (:mod:`zkflpq.agent`) and the Flower mod
(:mod:`zkflpq.flower.mod`) both call these two functions and differ only in how the
signed envelope travels (sealed HTTP POST, or a record in a Flower reply). Nothing here
imports ``services`` or an HTTP library: a client needs ``zkflpq`` alone.

:func:`open_update` is the strict inverse of :func:`sign_update` for a receiver that has
no HTTP layer (the Flower strategy); it raises :class:`zkflpq.protocol.EnvelopeError`
and nothing else on bad input.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from zkflpq.bfv import PublicKey
from zkflpq.pq import SigningKey, VerifyKey
from zkflpq.protocol import (
    CTX_UPDATE,
    PROTOCOL_VERSION,
    EnvelopeError,
    client_id_for,
    decode_envelope,
    encode_envelope,
    meta_hex,
    meta_int,
    meta_str,
    new_nonce,
    now,
    update_digest,
    update_signing_message,
)

__all__ = ["BuildFn", "PreparedUpdate", "SignedUpdate", "open_update", "prepare_update",
           "sign_update", "update_context"]

BuildFn = Callable[..., tuple[bytes, bytes, dict[str, float]]]


@dataclass
class PreparedUpdate:
    ciphertexts: bytes
    proof: bytes
    update_norm: float
    clipped_norm: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SignedUpdate:
    """A decoded update envelope (signature not yet checked: see ``verify``)."""

    client_id: str
    round_id: int
    timestamp: int
    nonce: str
    k_min: int
    digest: bytes
    ciphertexts: bytes
    proof: bytes
    signature: bytes

    def verify(self, verify_key: VerifyKey, *, aggregator_id: str, deployment: str) -> None:
        """Raise ``zkflpq.pq.SignatureError`` unless the client's signature covers this
        (client, aggregator, deployment, round, K_min, ciphertexts, proof)."""
        if update_digest(self.ciphertexts, self.proof) != self.digest:
            from zkflpq.pq import SignatureError

            raise SignatureError("digest does not match the ciphertexts and proof")
        verify_key.verify(self.signature, update_signing_message(
            self.client_id, self.round_id, self.digest, self.timestamp, self.nonce,
            aggregator_id=aggregator_id, deployment=deployment, k_min=self.k_min), CTX_UPDATE)


def update_context(aggregator_id: str, round_id: int, client_id: str) -> bytes:
    """The proof's context: binds the proof to one aggregator, round and client, so a
    proof replayed into another round or by another client does not verify."""
    from zkflpq import zk

    return zk.proof_context(PROTOCOL_VERSION, aggregator_id, round_id, client_id)


def prepare_update(pk: PublicKey, update: np.ndarray, *, tau: float, scale: float,
                   aggregator_id: str, round_id: int, client_id: str, clip: bool = True,
                   build: BuildFn | None = None) -> PreparedUpdate:
    """Clip (unless ``clip=False``, for attack simulations only), quantise, encrypt, prove.

    ``build`` defaults to :func:`zkflpq.zkbridge.prove_update`, whose encoder enforces the
    hard bound B = floor(τ·scale): an honest client cannot produce a proof over the bound.
    """
    from zkflpq.fl.training import clip_l2
    from zkflpq.zkbridge import prove_update

    vec = np.asarray(update, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(vec)):
        raise ValueError("update contains NaN or infinity")
    norm = float(np.linalg.norm(vec.astype(np.float64)))
    if clip:
        vec, _ = clip_l2(vec, tau)
    clipped = float(np.linalg.norm(vec.astype(np.float64)))
    ct, proof, timings = (build or prove_update)(
        pk, vec, tau, scale, update_context(aggregator_id, round_id, client_id))
    return PreparedUpdate(ct, proof, norm, clipped, dict(timings))


def sign_update(signing_key: SigningKey, *, round_id: int, ciphertexts: bytes, proof: bytes,
                aggregator_id: str, deployment: str, k_min: int,
                client_id: str | None = None, timestamp: int | None = None,
                nonce: str | None = None) -> bytes:
    """The signed update envelope (the bytes the REST agent seals, the Flower mod sends)."""
    cid = client_id or client_id_for(signing_key.verify_key())
    ts = now() if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    digest = update_digest(ciphertexts, proof)
    sig = signing_key.sign(update_signing_message(
        cid, round_id, digest, ts, nonce, aggregator_id=aggregator_id, deployment=deployment,
        k_min=k_min), CTX_UPDATE)
    return encode_envelope({"client_id": cid, "round_id": round_id, "timestamp": ts,
                            "nonce": nonce, "digest": digest.hex(), "k_min": k_min},
                           {"ciphertexts": ciphertexts, "proof": proof, "signature": sig})


def open_update(envelope: bytes, *, max_bytes: int) -> SignedUpdate:
    """Strict decode of :func:`sign_update`'s output (size first, then structure)."""
    if not isinstance(envelope, bytes | bytearray):
        raise EnvelopeError("update envelope must be bytes")
    if len(envelope) > max_bytes:
        raise EnvelopeError(f"update envelope is {len(envelope)} bytes, limit {max_bytes}")
    env = decode_envelope(bytes(envelope), max_meta=64 * 1024)
    if set(env.parts) != {"ciphertexts", "proof", "signature"}:
        raise EnvelopeError(f"update parts must be ciphertexts, proof, signature; got "
                            f"{sorted(env.parts)}")
    m = env.meta
    return SignedUpdate(meta_str(m, "client_id", 128), meta_int(m, "round_id", 0, 2**63 - 1),
                        meta_int(m, "timestamp", -(2**62), 2**62), meta_str(m, "nonce", 64),
                        meta_int(m, "k_min", 1, 10**6), meta_hex(m, "digest", 32),
                        env.part("ciphertexts"), env.part("proof"), env.part("signature"))


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
