"""Strict codecs: round trips, every rejection path, and fuzzing."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkflpq.bfv import (
    DEFAULT,
    INSECURE_N64,
    INSECURE_N256,
    BfvDecodeError,
    Ciphertexts,
    PublicKey,
    SecretKey,
    ciphertext_size,
    decode_ciphertexts,
    decode_public_key,
    decode_secret_key,
    decrypt,
    encode_ciphertexts,
    encode_public_key,
    encode_secret_key,
    encrypt,
    public_key_size,
    secret_key_size,
)
from zkflpq.bfv.codec import FORMAT_VERSION, MAGIC

HEADER = 22


@pytest.fixture(scope="module")
def blobs(keys_n64):
    sk, pk = keys_n64
    m = np.random.default_rng(0).integers(-(2**31) + 1, 2**31, (3, 64))
    ct = encrypt(pk, m)
    return {
        "pk": (encode_public_key(pk), decode_public_key),
        "sk": (encode_secret_key(sk), decode_secret_key),
        "ct": (encode_ciphertexts(ct), decode_ciphertexts),
    }


def test_round_trips(keys_n64):
    sk, pk = keys_n64
    pk2 = decode_public_key(encode_public_key(pk), INSECURE_N64)
    assert np.array_equal(pk2.p0, pk.p0) and np.array_equal(pk2.p1, pk.p1)
    assert pk2.digest == pk.digest and pk2.params is INSECURE_N64
    sk2 = decode_secret_key(encode_secret_key(sk), INSECURE_N64)
    assert np.array_equal(sk2.s, sk.s) and sk2.s.dtype == np.int64
    m = np.random.default_rng(1).integers(-100, 100, (2, 64))
    ct = encrypt(pk, m)
    blob = encode_ciphertexts(ct)
    assert len(blob) == ciphertext_size(INSECURE_N64, 2)
    ct2 = decode_ciphertexts(blob, INSECURE_N64, max_chunks=2)
    assert np.array_equal(ct2.data, ct.data) and ct2.data.dtype == np.int64
    assert np.array_equal(decrypt(sk2, ct2), m)
    # bytearray / memoryview inputs and lookup by id
    assert np.array_equal(decode_ciphertexts(bytearray(blob)).data, ct.data)
    assert np.array_equal(decode_ciphertexts(memoryview(blob)).data, ct.data)
    assert decode_public_key(encode_public_key(pk)).params is INSECURE_N64


def test_sizes_and_layout(keys_default):
    sk, pk = keys_default
    blob = encode_public_key(pk)
    assert len(blob) == public_key_size(DEFAULT) == HEADER + 2 * 3 * 4096 * 30 // 8
    assert len(encode_secret_key(sk)) == secret_key_size(DEFAULT) == HEADER + 4096 // 4
    assert ciphertext_size(DEFAULT, 1) == HEADER + 4 + 2 * 3 * 4096 * 30 // 8
    assert blob[:4] == MAGIC and blob[4] == FORMAT_VERSION and blob[5] == 1
    assert blob[6:22] == DEFAULT.id_bytes
    # first residue of p0 mod p_0, little-endian in the low 30 bits
    assert int.from_bytes(blob[22:26], "little") & (2**30 - 1) == int(pk.p0[0, 0])
    with pytest.raises(ValueError):
        ciphertext_size(DEFAULT, 0)


def test_canonical_encoding_of_secret_key():
    s = np.array([-1, 0, 1, 1] * 16, np.int64)
    blob = encode_secret_key(SecretKey(INSECURE_N64, s))
    # s_i + 1 at two bits, little-endian: (0, 1, 2, 2) → 0b10_10_01_00
    assert blob[HEADER] == 0b10100100
    with pytest.raises(ValueError):
        encode_secret_key(SecretKey(INSECURE_N64, s * 2))


@pytest.mark.parametrize("kind", ["pk", "sk", "ct"])
def test_rejects_truncated_and_padded(blobs, kind):
    blob, dec = blobs[kind]
    for cut in (0, 3, HEADER - 1, HEADER, HEADER + 2, len(blob) - 1):
        with pytest.raises(BfvDecodeError):
            dec(blob[:cut], INSECURE_N64)
    for extra in (b"\0", b"\x01", b"\0" * 100):
        with pytest.raises(BfvDecodeError, match="trailing"):
            dec(blob + extra, INSECURE_N64)


@pytest.mark.parametrize("kind", ["pk", "sk", "ct"])
def test_rejects_bad_header(blobs, kind):
    blob, dec = blobs[kind]
    with pytest.raises(BfvDecodeError, match="magic"):
        dec(b"ZKFC" + blob[4:], INSECURE_N64)
    for version in (0, 2, 255):
        with pytest.raises(BfvDecodeError, match="version"):
            dec(blob[:4] + bytes([version]) + blob[5:], INSECURE_N64)
    for k in (0, 1, 2, 3, 4, 255):
        if k == blob[5]:
            continue
        with pytest.raises(BfvDecodeError, match="kind"):
            dec(blob[:5] + bytes([k]) + blob[6:], INSECURE_N64)
    with pytest.raises(BfvDecodeError, match="parameter"):
        dec(blob, INSECURE_N256)  # wrong expected set
    forged = blob[:6] + bytes(16) + blob[22:]
    with pytest.raises(BfvDecodeError, match="parameter"):
        dec(forged, INSECURE_N64)
    with pytest.raises(BfvDecodeError, match="unknown parameter"):
        dec(forged)  # no preset has this id
    with pytest.raises(BfvDecodeError):
        dec("not bytes", INSECURE_N64)


def _set_residue(blob: bytes, offset_bits: int, width: int, value: int) -> bytes:
    """Overwrite one packed value (little-endian bit stream after the header)."""
    as_int = int.from_bytes(blob, "little")
    pos = offset_bits
    as_int &= ~(((1 << width) - 1) << pos)
    as_int |= value << pos
    return as_int.to_bytes(len(blob), "little")


@pytest.mark.parametrize("j", [0, 1, 2])
def test_rejects_residue_out_of_range(blobs, j):
    p, w = INSECURE_N64.primes[j], INSECURE_N64.primes[j].bit_length()
    per_prime_pk = 2 * 64 * w  # bits
    for kind, start_bits in (("pk", HEADER * 8 + j * per_prime_pk),
                             ("ct", (HEADER + 4) * 8 + j * 3 * per_prime_pk)):
        blob, dec = blobs[kind]
        for bad in (p, 2**w - 1):
            for idx in (0, 5):
                forged = _set_residue(blob, start_bits + idx * w, w, bad)
                with pytest.raises(BfvDecodeError, match="out of range"):
                    dec(forged, INSECURE_N64)
        ok = _set_residue(blob, start_bits, w, p - 1)  # largest valid residue decodes
        dec(ok, INSECURE_N64)


def test_rejects_bad_secret_coefficient(blobs):
    blob, _ = blobs["sk"]
    for idx in (0, 63):
        forged = _set_residue(blob, HEADER * 8 + 2 * idx, 2, 3)
        with pytest.raises(BfvDecodeError, match="secret"):
            decode_secret_key(forged, INSECURE_N64)


@pytest.mark.parametrize("params", [DEFAULT, INSECURE_N256, INSECURE_N64])
def test_no_padding_bits_exist(params):
    """N ≥ 16 is a multiple of 8, so every packed stream (N·w bits per row, 2 bits per
    secret coefficient) ends on a byte boundary: the format has no padding bits to forge.
    The residue/coefficient range checks above are what reject stray high bits."""
    bits = sum(2 * params.n * p.bit_length() for p in params.primes)
    assert bits % 8 == 0 and public_key_size(params) == HEADER + bits // 8
    assert ciphertext_size(params, 5) == HEADER + 4 + 5 * bits // 8
    assert secret_key_size(params) == HEADER + 2 * params.n // 8


def test_rejects_over_size_and_zero_chunks(blobs):
    blob, _ = blobs["ct"]
    assert decode_ciphertexts(blob, INSECURE_N64, max_chunks=3)
    with pytest.raises(BfvDecodeError, match="exceeds"):
        decode_ciphertexts(blob, INSECURE_N64, max_chunks=2)
    zero = blob[:HEADER] + struct.pack("<I", 0)
    with pytest.raises(BfvDecodeError, match="zero"):
        decode_ciphertexts(zero, INSECURE_N64)
    # a huge announced count with a short body: rejected by length, no allocation
    huge = blob[:HEADER] + struct.pack("<I", 2**32 - 1) + blob[HEADER + 4:]
    with pytest.raises(BfvDecodeError, match="truncated"):
        decode_ciphertexts(huge, INSECURE_N64)
    with pytest.raises(BfvDecodeError, match="exceeds"):
        decode_ciphertexts(huge, INSECURE_N64, max_chunks=1000)
    fewer = blob[:HEADER] + struct.pack("<I", 2) + blob[HEADER + 4:]
    with pytest.raises(BfvDecodeError, match="trailing"):
        decode_ciphertexts(fewer, INSECURE_N64)


def test_encoders_reject_invalid_objects(keys_n64):
    _, pk = keys_n64
    bad = PublicKey(INSECURE_N64, pk.p0 + INSECURE_N64.primes[0], pk.p1)
    with pytest.raises(ValueError):
        encode_public_key(bad)
    with pytest.raises(ValueError):
        encode_ciphertexts(Ciphertexts(INSECURE_N64, np.zeros((0, 2, 3, 64), np.int64)))


@given(st.binary(max_size=4000))
def test_fuzz_arbitrary_bytes(data):
    for dec in (decode_public_key, decode_secret_key, decode_ciphertexts):
        for params in (None, INSECURE_N64):
            try:
                dec(data, params)
            except BfvDecodeError:
                pass


@given(st.data())
def test_fuzz_mutated_valid_encodings(blobs, data):
    kind = data.draw(st.sampled_from(["pk", "sk", "ct"]))
    blob, dec = blobs[kind]
    b = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(b) - 1))
        b[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(b) + 3))
    mutated = bytes(b[:cut]) + bytes(max(0, cut - len(b)))
    try:
        obj = dec(mutated, INSECURE_N64)
    except BfvDecodeError:
        return
    # accepted: it must re-encode to exactly the same bytes (canonical encoding)
    enc = {"pk": encode_public_key, "sk": encode_secret_key, "ct": encode_ciphertexts}[kind]
    assert enc(obj) == mutated
