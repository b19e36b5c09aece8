"""ML-DSA-65 signing/verification, encodings and fingerprints."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkflpq.pq import (
    DecodeError,
    KemAlgorithm,
    KemPrivateKey,
    KemPublicKey,
    KeyLengthError,
    SignatureError,
    SigningKey,
    VerifyKey,
    fingerprint,
    sign,
)

MSG = b"round 7 aggregate commitment"


def test_sign_verify(signing_key: SigningKey) -> None:
    sig = signing_key.sign(MSG)
    assert len(sig) == sign.SIGNATURE_SIZE == 3309
    signing_key.verify_key().verify(sig, MSG)


def test_sign_verify_with_context(signing_key: SigningKey) -> None:
    sig = signing_key.sign(MSG, context=b"zkflpq/aggregate")
    signing_key.verify_key().verify(sig, MSG, context=b"zkflpq/aggregate")
    for other in (b"", b"zkflpq/aggregatE", b"zkflpq/aggregate\x00"):
        with pytest.raises(SignatureError):
            signing_key.verify_key().verify(sig, MSG, context=other)


def test_empty_context_is_default(signing_key: SigningKey) -> None:
    signing_key.verify_key().verify(signing_key.sign(MSG, b""), MSG)
    signing_key.verify_key().verify(signing_key.sign(MSG), MSG, b"")


def test_context_too_long(signing_key: SigningKey) -> None:
    signing_key.sign(MSG, bytes(255))
    with pytest.raises(ValueError):
        signing_key.sign(MSG, bytes(256))


def test_rejects_wrong_key(signing_key: SigningKey) -> None:
    sig = signing_key.sign(MSG)
    with pytest.raises(SignatureError):
        SigningKey.generate().verify_key().verify(sig, MSG)


def test_rejects_modified_message(signing_key: SigningKey) -> None:
    sig = signing_key.sign(MSG)
    for bad in (MSG + b"!", MSG[:-1], b"", bytes([MSG[0] ^ 1]) + MSG[1:]):
        with pytest.raises(SignatureError):
            signing_key.verify_key().verify(sig, bad)


@settings(max_examples=40, deadline=None)
@given(position=st.integers(0, sign.SIGNATURE_SIZE - 1), delta=st.integers(1, 255))
def test_rejects_modified_signature(position: int, delta: int) -> None:
    bad = bytearray(_SIG)
    bad[position] ^= delta
    with pytest.raises(SignatureError):
        _SK.verify_key().verify(bytes(bad), MSG)


_SK = SigningKey.generate()
_SIG = _SK.sign(MSG)


@pytest.mark.parametrize("length", [0, 1, 3308, 3310])
def test_rejects_wrong_length_signature(length: int, signing_key: SigningKey) -> None:
    sig = signing_key.sign(MSG)
    with pytest.raises(SignatureError):
        signing_key.verify_key().verify((sig * 2)[:length], MSG)


def test_rejects_non_bytes_signature(signing_key: SigningKey) -> None:
    with pytest.raises(SignatureError):
        signing_key.verify_key().verify(None, MSG)  # type: ignore[arg-type]


def test_signatures_are_hedged(signing_key: SigningKey) -> None:
    assert signing_key.sign(MSG) != signing_key.sign(MSG)


def test_key_round_trip() -> None:
    seed = os.urandom(32)
    sk = SigningKey.from_bytes(seed)
    assert sk.to_bytes() == seed
    assert SigningKey.from_bytes(seed).verify_key() == sk.verify_key()
    vk = VerifyKey.from_bytes(sk.verify_key().to_bytes())
    vk.verify(sk.sign(MSG), MSG)


@pytest.mark.parametrize("length", [0, 31, 33, 64, 4032])
def test_malformed_signing_key(length: int) -> None:
    with pytest.raises(DecodeError):
        SigningKey.from_bytes(bytes(length))


@pytest.mark.parametrize("length", [0, 1951, 1953, 1184])
def test_malformed_verify_key(length: int) -> None:
    with pytest.raises(DecodeError):
        VerifyKey.from_bytes(bytes(length))


KEY_DECODERS = [
    ("ML-DSA-65 verify key", VerifyKey.from_bytes, sign.PUBLIC_KEY_SIZE),
    ("ML-DSA-65 seed", SigningKey.from_bytes, sign.PRIVATE_KEY_SIZE),
    ("X-Wing public key", lambda b: KemPublicKey.from_bytes(KemAlgorithm.XWING, b), 1216),
    ("X-Wing seed", lambda b: KemPrivateKey.from_bytes(KemAlgorithm.XWING, b), 32),
    ("ML-KEM-768 public key", lambda b: KemPublicKey.from_bytes(KemAlgorithm.MLKEM768, b),
     1184),
    ("ML-KEM-768 seed", lambda b: KemPrivateKey.from_bytes(KemAlgorithm.MLKEM768, b), 64),
]


@pytest.mark.parametrize(("name", "decode", "size"), KEY_DECODERS, ids=[k[0] for k in KEY_DECODERS])
def test_wrong_length_key_raises_key_length_error(name: str, decode: object, size: int) -> None:
    """A wrong-length key is a typed error that is also a ValueError (issue #13 item 7)."""
    for length in (0, 1, size - 1, size + 1):
        with pytest.raises(KeyLengthError) as info:
            decode(b"\x01" * length)  # type: ignore[operator]
        err = info.value
        assert isinstance(err, ValueError) and isinstance(err, DecodeError)
        assert (err.expected, err.actual) == (size, length)
        assert f"{size} bytes" in str(err)


def test_fingerprints(signing_key: SigningKey) -> None:
    vk = signing_key.verify_key()
    fp = fingerprint(signing_key)
    assert fp == fingerprint(vk) == hashlib.sha3_256(vk.to_bytes()).hexdigest()
    kem = KemPrivateKey.generate(KemAlgorithm.XWING)
    assert fingerprint(kem) == fingerprint(kem.public_key())
    assert fingerprint(kem) == hashlib.sha3_256(kem.public_key().to_bytes()).hexdigest()
    assert len({fp, fingerprint(kem), fingerprint(SigningKey.generate())}) == 3
    with pytest.raises(TypeError):
        fingerprint(b"not a key")  # type: ignore[arg-type]


def test_interop_with_dilithium_py() -> None:
    # Independent pure-Python FIPS 204 implementation, both directions.
    ml_dsa = pytest.importorskip("dilithium_py.ml_dsa")
    seed = os.urandom(32)
    pk, sk_expanded = ml_dsa.ML_DSA_65.key_derive(seed)
    ours = SigningKey.from_bytes(seed)
    assert ours.verify_key().to_bytes() == pk
    ours.verify_key().verify(ml_dsa.ML_DSA_65.sign(sk_expanded, MSG, ctx=b"c"), MSG, b"c")
    assert ml_dsa.ML_DSA_65.verify(pk, MSG, ours.sign(MSG, b"c"), ctx=b"c")
