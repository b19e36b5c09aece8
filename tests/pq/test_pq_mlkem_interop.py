"""ML-KEM-768 (cryptography/OpenSSL) against the independent pure-Python kyber-py."""

from __future__ import annotations

import os

import pytest
from kyber_py.ml_kem import ML_KEM_768

from zkflpq.pq import DecodeError, KemAlgorithm, KemPrivateKey, KemPublicKey, mlkem

ALG = KemAlgorithm.MLKEM768


def _pair_from_seed() -> tuple[KemPrivateKey, bytes, bytes]:
    seed = os.urandom(64)  # d || z (FIPS 203 §7.1)
    ek, dk = ML_KEM_768.key_derive(seed)
    return KemPrivateKey.from_bytes(ALG, seed), ek, dk


def test_sizes_match_fips203() -> None:
    assert (ALG.private_key_size, ALG.public_key_size, ALG.encapsulation_size) == (
        64,
        1184,
        1088,
    )


def test_same_seed_same_public_key() -> None:
    for _ in range(3):
        sk, ek, _dk = _pair_from_seed()
        assert sk.public_key().to_bytes() == ek


def test_kyber_py_encapsulates_cryptography_decapsulates() -> None:
    sk, _ek, _dk = _pair_from_seed()
    shared, ct = ML_KEM_768.encaps(sk.public_key().to_bytes())
    assert sk.decapsulate(ct) == shared


def test_cryptography_encapsulates_kyber_py_decapsulates() -> None:
    sk, _ek, dk = _pair_from_seed()
    shared, ct = sk.public_key().encapsulate()
    assert len(shared) == 32 and len(ct) == 1088
    assert ML_KEM_768.decaps(dk, ct) == shared


def test_encapsulate_to_kyber_py_generated_key() -> None:
    ek, dk = ML_KEM_768.keygen()
    pk = KemPublicKey.from_bytes(ALG, ek)
    shared, ct = pk.encapsulate()
    assert ML_KEM_768.decaps(dk, ct) == shared


def test_implicit_rejection_agrees() -> None:
    # A modified ciphertext must give the same pseudorandom J(z || c) secret in
    # both implementations, and not the real one (FIPS 203 Algorithm 18).
    sk, _ek, dk = _pair_from_seed()
    shared, ct = sk.public_key().encapsulate()
    bad = bytearray(ct)
    bad[100] ^= 0x01
    rejected = sk.decapsulate(bytes(bad))
    assert rejected != shared
    assert rejected == ML_KEM_768.decaps(dk, bytes(bad))


def test_modulus_check_rejects_unreduced_public_key() -> None:
    # First 12-bit coefficient set to 4095 >= q = 3329 (FIPS 203 §7.2).
    _sk, ek, _dk = _pair_from_seed()
    bad = bytearray(ek)
    bad[0] = 0xFF
    bad[1] |= 0x0F
    with pytest.raises(ValueError):
        ML_KEM_768.encaps(bytes(bad))
    with pytest.raises(DecodeError):
        KemPublicKey.from_bytes(ALG, bytes(bad))


@pytest.mark.parametrize("length", [0, 63, 65, 2400])
def test_wrong_private_key_length(length: int) -> None:
    with pytest.raises(DecodeError):
        KemPrivateKey.from_bytes(ALG, bytes(length))


@pytest.mark.parametrize("length", [0, 1183, 1185, 1216])
def test_wrong_public_key_length(length: int) -> None:
    with pytest.raises(DecodeError):
        KemPublicKey.from_bytes(ALG, bytes(length))


@pytest.mark.parametrize("length", [0, 1087, 1089, 1120])
def test_wrong_ciphertext_length(length: int) -> None:
    sk = mlkem.MLKEM768PrivateKey.generate()
    with pytest.raises(DecodeError):
        sk.decapsulate(bytes(length))


def test_private_key_round_trip() -> None:
    sk = KemPrivateKey.generate(ALG)
    again = KemPrivateKey.from_bytes(ALG, sk.to_bytes())
    assert again.public_key() == sk.public_key()
    shared, ct = sk.public_key().encapsulate()
    assert again.decapsulate(ct) == shared
