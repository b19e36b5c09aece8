"""Property-based fuzz of every decoder a request body reaches: the sealed body, the
envelope inside it, the ciphertexts and the proof. Each may only raise its own decode
error (which the services map to a 4xx) and a mutated proof never verifies."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from zkflpq import zk, zkbridge
from zkflpq.bfv import (
    INSECURE_N64,
    BfvDecodeError,
    Encoder,
    decode_ciphertexts,
    encode_public_key,
    keygen,
)
from zkflpq.pq import DecodeError, KemAlgorithm, KemPrivateKey, SealError
from zkflpq.protocol import (
    Envelope,
    EnvelopeError,
    b64d,
    b64e,
    decode_envelope,
    encode_envelope,
    open_request,
    seal_request,
)
from zkflpq.ring import Csprng

D = 100
TAU, SCALE = 1.0, 1024.0
CTX = zk.proof_context("zkflpq/v1", "aggregator-test", 1, "client-test")
FUZZ = settings(deadline=None, max_examples=40,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@lru_cache(maxsize=1)
def fixture() -> dict[str, Any]:
    _, pk = keygen(INSECURE_N64, Csprng.from_seed(b"tests", b"services-fuzz"))
    u = np.random.default_rng(0).normal(size=D)
    u *= 0.5 / np.linalg.norm(u)
    ct, proof, _ = zkbridge.prove_update(pk, u, TAU, SCALE, CTX)
    enc = Encoder(INSECURE_N64, SCALE, TAU)
    kem = KemPrivateKey.generate(KemAlgorithm.XWING)
    env = encode_envelope({"client_id": "c", "round_id": 1, "timestamp": 5, "nonce": "n"},
                          {"ciphertexts": ct, "proof": proof, "signature": b"s" * 3309})
    sealed, _, _ = seal_request(kem.public_key(), "POST", "/v1/rounds/1/updates", "c", 5, env)
    return {"pk": pk, "pk_bytes": encode_public_key(pk), "ct": ct, "proof": proof,
            "bound": enc.bound, "k": enc.num_chunks(D), "kem": kem, "env": env,
            "sealed": sealed}


def mutations(data_key: str) -> st.SearchStrategy[bytes]:
    """Byte flips, truncations, extensions and splices of a valid encoding."""

    @st.composite
    def mutate(draw: Any) -> bytes:
        data = bytearray(fixture()[data_key])
        kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice", "zero"]))
        if kind == "flip":
            for _ in range(draw(st.integers(1, 4))):
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data) - 1))]
        elif kind == "extend":
            data += draw(st.binary(min_size=1, max_size=64))
        elif kind == "splice":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            i = draw(st.integers(0, len(data) - 1))
            data[i: i + draw(st.integers(1, 64))] = b"\0" * min(64, len(data) - i)
        return bytes(data)

    return mutate()


# -- envelope ------------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=4096))
def test_envelope_decoder_random_bytes(data: bytes) -> None:
    try:
        env = decode_envelope(data)
    except EnvelopeError:
        return
    assert isinstance(env, Envelope)
    assert decode_envelope(encode_envelope(env.meta, env.parts)).parts == env.parts


@FUZZ
@given(mutations("env"))
def test_envelope_decoder_mutations(data: bytes) -> None:
    try:
        decode_envelope(data)
    except EnvelopeError:
        pass


@FUZZ
@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=5),
       st.dictionaries(st.text(alphabet="abcxyz_", min_size=1, max_size=8),
                       st.binary(max_size=64), max_size=5))
def test_envelope_roundtrip(meta: dict[str, Any], parts: dict[str, bytes]) -> None:
    env = decode_envelope(encode_envelope(meta, parts))
    assert env.meta == meta and env.parts == parts


@FUZZ
@given(st.text(max_size=64))
def test_b64d_strict(text: str) -> None:
    try:
        raw = b64d(text)
    except ValueError:
        return
    assert b64e(raw) == text


# -- sealed body ---------------------------------------------------------------------------
@FUZZ
@given(st.one_of(st.binary(max_size=3000), mutations("sealed")))
def test_sealed_body_decoder(data: bytes) -> None:
    f = fixture()
    try:
        plaintext, _, _ = open_request(f["kem"], "POST", "/v1/rounds/1/updates", "c", 5, data)
    except (DecodeError, SealError):
        return
    assert data == f["sealed"] and plaintext == f["env"]


def test_sealed_body_context_binding() -> None:
    f = fixture()
    for method, path, sender, ts in (("GET", "/v1/rounds/1/updates", "c", 5),
                                     ("POST", "/v1/rounds/2/updates", "c", 5),
                                     ("POST", "/v1/rounds/1/updates", "d", 5),
                                     ("POST", "/v1/rounds/1/updates", "c", 6)):
        with pytest.raises(SealError):
            open_request(f["kem"], method, path, sender, ts, f["sealed"])


# -- ciphertexts and proofs ----------------------------------------------------------------------
@FUZZ
@given(st.one_of(st.binary(max_size=2000), mutations("ct")))
def test_ciphertext_decoder(data: bytes) -> None:
    try:
        decode_ciphertexts(data, INSECURE_N64, max_chunks=fixture()["k"])
    except BfvDecodeError:
        pass


@FUZZ
@given(st.one_of(st.binary(max_size=2000), mutations("proof")))
def test_proof_decoder_and_verifier(data: bytes) -> None:
    f = fixture()
    from zkflpq.bfv import decode_ciphertexts as dc

    statement = zk.NormStatement(INSECURE_N64, f["pk"], dc(f["ct"], INSECURE_N64), f["bound"],
                                 CTX)
    try:
        zk.decode_proof(data, statement)
    except zk.ProofDecodeError:
        pass
    verdict = zk.verify(statement, data)
    assume(data != f["proof"])
    assert not verdict.accepted


@FUZZ
@given(mutations("proof"), st.booleans())
def test_verification_worker_never_raises(proof: bytes, mutate_ct: bool) -> None:
    f = fixture()
    ct = f["ct"]
    if mutate_ct:
        ct = ct[:-3] + bytes([ct[-3] ^ 0x10]) + ct[-2:]
    out = zkbridge.verify_submission(INSECURE_N64.name, f["pk_bytes"], ct, proof, f["bound"],
                                     f["k"], CTX)
    assert out["accepted"] is (proof == f["proof"] and not mutate_ct)
    assert out["reason"] in (None, "malformed", "proof_invalid", "norm_bound")


def test_genuine_proof_verifies_and_is_context_bound() -> None:
    f = fixture()
    ok = zkbridge.verify_submission(INSECURE_N64.name, f["pk_bytes"], f["ct"], f["proof"],
                                    f["bound"], f["k"], CTX)
    assert ok["accepted"] is True
    other = zk.proof_context("zkflpq/v1", "aggregator-test", 2, "client-test")
    bad = zkbridge.verify_submission(INSECURE_N64.name, f["pk_bytes"], f["ct"], f["proof"],
                                     f["bound"], f["k"], other)
    assert bad["accepted"] is False and bad["reason"] == "proof_invalid"
    # a proof for a different bound does not even decode for this statement
    bad = zkbridge.verify_submission(INSECURE_N64.name, f["pk_bytes"], f["ct"], f["proof"],
                                     f["bound"] + 1, f["k"], CTX)
    assert bad["accepted"] is False and bad["reason"] == "malformed"
