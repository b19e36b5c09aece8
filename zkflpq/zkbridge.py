"""The one place where the services and the agent call the proof system (zkflpq.zk).

- :func:`verify_submission` runs in the aggregator's verification workers (a process or
  thread pool): it decodes the ciphertexts (strictly, with the round's chunk count),
  rebuilds the statement (parameter set, BFV public key, ciphertexts, bound B, context)
  and verifies the proof. It never raises on bad input: it returns a verdict dict.
- :func:`prove_update` is the client side: fixed-point encode (with the hard L2 bound),
  encrypt with exposed randomness, prove.

Verdict reasons (the aggregator's machine-readable 422 reasons):
``malformed`` (ciphertexts or proof do not decode for this round's statement),
``norm_bound`` (the proof's JL projection is too long: the committed update is over the
bound), ``proof_invalid`` (any other verification failure: challenge, relations,
responses). The proof system's own reason is kept in ``detail``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from zkflpq.bfv import (
    BfvDecodeError,
    Encoder,
    PublicKey,
    decode_ciphertexts,
    decode_public_key,
    encode_ciphertexts,
    encrypt_with_randomness,
    get_params,
)

__all__ = ["map_reason", "prove_update", "verify_submission", "warm_up"]

# zk reason → service reason
_NORM_REASONS = {"jl_too_large", "norm_bound"}
_MALFORMED_REASONS = {"malformed", "decode", "proof_malformed"}

_PK_CACHE: dict[bytes, PublicKey] = {}


def map_reason(zk_reason: str | None) -> str:
    if zk_reason is None:
        return "proof_invalid"
    if zk_reason in _MALFORMED_REASONS:
        return "malformed"
    if zk_reason in _NORM_REASONS:
        return "norm_bound"
    return "proof_invalid"


def _public_key(params_name: str, pk_bytes: bytes) -> PublicKey:
    h = hashlib.sha3_256(pk_bytes).digest()
    pk = _PK_CACHE.get(h)
    if pk is None:
        pk = decode_public_key(pk_bytes, get_params(params_name))
        _PK_CACHE.clear()
        _PK_CACHE[h] = pk
    return pk


def verify_submission(params_name: str, pk_bytes: bytes, ct_bytes: bytes, proof_bytes: bytes,
                      bound: int, k: int, context: bytes) -> dict[str, Any]:
    """Verify one update; returns {"accepted", "reason", "detail", "verify_ms", "decode_ms"}."""
    from zkflpq import zk

    t0 = time.perf_counter()
    try:
        params = get_params(params_name)
        pk = _public_key(params_name, pk_bytes)
        try:
            cts = decode_ciphertexts(ct_bytes, params, max_chunks=k)
        except BfvDecodeError as exc:
            return {"accepted": False, "reason": "malformed", "detail": f"ciphertexts: {exc}",
                    "verify_ms": 0.0, "decode_ms": _ms(t0)}
        if len(cts) != k:
            return {"accepted": False, "reason": "malformed",
                    "detail": f"expected {k} ciphertext chunks, got {len(cts)}",
                    "verify_ms": 0.0, "decode_ms": _ms(t0)}
        statement = zk.NormStatement(params, pk, cts, bound, context)
        t1 = time.perf_counter()
        c1 = time.thread_time()
        decode_ms = (t1 - t0) * 1000
        verdict = zk.verify(statement, proof_bytes)
        verify_ms = _ms(t1)
        cpu_ms = round((time.thread_time() - c1) * 1000, 3)
    except Exception as exc:  # noqa: BLE001 - verification must never crash the service
        return {"accepted": False, "reason": "malformed",
                "detail": f"{type(exc).__name__}: {exc}"[:300], "verify_ms": 0.0,
                "decode_ms": _ms(t0)}
    if verdict.accepted:
        return {"accepted": True, "reason": None, "detail": None, "verify_ms": verify_ms,
                "verify_cpu_ms": cpu_ms, "decode_ms": decode_ms}
    return {"accepted": False, "reason": map_reason(verdict.reason),
            "detail": str(verdict.reason), "verify_ms": verify_ms, "verify_cpu_ms": cpu_ms,
            "decode_ms": decode_ms}


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)


def warm_up(params_name: str | None = None) -> bool:
    """Import the proof system (and load cached numba kernels) in a worker process."""
    import zkflpq.zk  # noqa: F401

    if params_name:
        get_params(params_name)
    return True


def prove_update(pk: PublicKey, update: np.ndarray, tau: float, scale: float,
                 context: bytes) -> tuple[bytes, bytes, dict[str, float]]:
    """Client side: clip+quantise (hard bound B = floor(τ·scale)), encrypt, prove.

    Returns (ciphertext bytes, proof bytes, timings in ms). Raises
    ``zkflpq.zk.NormBoundExceeded`` only if the encoder's bound were broken (never for
    the Encoder's output).
    """
    from zkflpq import zk

    timings: dict[str, float] = {}
    t = time.perf_counter()
    enc = Encoder(pk.params, scale, tau)
    assert enc.bound is not None
    m = enc.encode(np.asarray(update, dtype=np.float64))
    timings["quantise_ms"] = _ms(t)
    timings["encrypt_ms"] = 0.0
    timings["prove_ms"] = 0.0
    for _ in range(8):
        t = time.perf_counter()
        cts, rand = encrypt_with_randomness(pk, m)
        timings["encrypt_ms"] += _ms(t)
        t = time.perf_counter()
        statement = zk.NormStatement(pk.params, pk, cts, int(enc.bound), context)
        try:
            proof = zk.prove(statement, m, rand)
        except zk.ProvingFailed:  # noise above the public bound (p < 2^-60): re-encrypt
            continue
        finally:
            timings["prove_ms"] += _ms(t)
        return encode_ciphertexts(cts), proof.to_bytes(), timings
    raise zk.ProvingFailed("could not produce a proof")


def forge_mismatched_update(pk: PublicKey, update: np.ndarray, tau: float, scale: float,
                            context: bytes) -> tuple[bytes, bytes, dict[str, float]]:
    """A dishonest client's best effort with an over-bound update (demo and tests).

    An honest prover refuses ‖m‖ > B, so the attacker encrypts the *unclipped* update
    and attaches a valid proof made for a clipped version of it (a different ciphertext).
    The aggregator's verifier must reject the pair: the proof is bound to its own
    ciphertexts through the Fiat–Shamir transcript.
    """
    from zkflpq import zk

    timings: dict[str, float] = {}
    t = time.perf_counter()
    raw = Encoder(pk.params, scale, None).encode(np.asarray(update, dtype=np.float64))
    big_cts, _ = encrypt_with_randomness(pk, raw)
    enc = Encoder(pk.params, scale, tau)
    assert enc.bound is not None
    small = enc.encode(np.asarray(update, dtype=np.float64))
    timings["encrypt_ms"] = _ms(t)
    t = time.perf_counter()
    for _ in range(8):
        small_cts, small_rand = encrypt_with_randomness(pk, small)
        statement = zk.NormStatement(pk.params, pk, small_cts, int(enc.bound), context)
        try:
            proof = zk.prove(statement, small, small_rand)
            break
        except zk.ProvingFailed:
            continue
    else:
        raise zk.ProvingFailed("could not produce a proof")
    timings["prove_ms"] = _ms(t)
    return encode_ciphertexts(big_cts), proof.to_bytes(), timings
