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
from zkflpq.ring import Csprng, uniform_mod

HEADER = 22
K_BLOB = 4  # chunks of the sample ciphertext: two groups at L' = 3, the last one partial


def naive_unpack(blob: bytes, start_bits: int, width: int, count: int) -> list[int]:
    """Little-endian bit stream read value by value (naive twin of unpack_uint)."""
    as_int = int.from_bytes(blob, "little")
    mask = (1 << width) - 1
    return [(as_int >> (start_bits + i * width)) & mask for i in range(count)]


def naive_body(params, arrays_per_prime, start_bits: int, blob: bytes) -> None:
    """Check the body prime by prime: for each p_j, the concatenation of the arrays'
    rows j, each in (row, coefficient) order, at width bit_length(p_j)."""
    pos = start_bits
    for j, p in enumerate(params.primes):
        w = p.bit_length()
        want = [int(v) for arr in arrays_per_prime for v in np.asarray(arr)[..., j, :].ravel()]
        assert naive_unpack(blob, pos, w, len(want)) == want
        pos += len(want) * w
    assert pos == len(blob) * 8  # nothing after the last prime's stream


@pytest.fixture(scope="module")
def blobs(keys_n64):
    sk, pk = keys_n64
    m = np.random.default_rng(0).integers(-(2**31) + 1, 2**31, (K_BLOB, 64))
    ct = encrypt(pk, m)
    return {
        "pk": (encode_public_key(pk), decode_public_key),
        "sk": (encode_secret_key(sk), decode_secret_key),
        "ct": (encode_ciphertexts(ct), decode_ciphertexts),
    }


def test_round_trips(keys_n64):
    sk, pk = keys_n64
    pk2 = decode_public_key(encode_public_key(pk), INSECURE_N64)
    assert np.array_equal(pk2.a, pk.a) and np.array_equal(pk2.b, pk.b)
    assert pk2.a.shape == (3, 64) and pk2.b.shape == (3, 3, 64) and pk2.b.dtype == np.int64
    assert pk2.digest == pk.digest and pk2.params is INSECURE_N64
    sk2 = decode_secret_key(encode_secret_key(sk), INSECURE_N64)
    assert np.array_equal(sk2.s, sk.s) and sk2.s.dtype == np.int64 and sk2.s.shape == (3, 64)
    for k in (1, 2, 3, 4, 7):  # full and partial last groups
        m = np.random.default_rng(k).integers(-100, 100, (k, 64))
        ct = encrypt(pk, m)
        blob = encode_ciphertexts(ct)
        assert len(blob) == ciphertext_size(INSECURE_N64, k)
        ct2 = decode_ciphertexts(blob, INSECURE_N64, max_chunks=k)
        assert len(ct2) == k and ct2.groups == INSECURE_N64.groups(k)
        assert np.array_equal(ct2.c0, ct.c0) and ct2.c0.dtype == np.int64
        assert np.array_equal(ct2.c1, ct.c1) and ct2.c1.dtype == np.int64
        assert np.array_equal(decrypt(sk2, ct2), m)
    # bytearray / memoryview inputs and lookup by id
    for wrapped in (bytearray(blob), memoryview(blob)):
        got = decode_ciphertexts(wrapped)
        assert np.array_equal(got.c0, ct.c0) and np.array_equal(got.c1, ct.c1)
    assert decode_public_key(encode_public_key(pk)).params is INSECURE_N64
    assert decode_secret_key(encode_secret_key(sk)).params is INSECURE_N64


def test_sizes_and_layout(keys_default):
    sk, pk = keys_default
    w, comps, n = 27, DEFAULT.components, DEFAULT.n
    assert [p.bit_length() for p in DEFAULT.primes] == [w] * 3
    blob = encode_public_key(pk)
    assert len(blob) == public_key_size(DEFAULT) == HEADER + 3 * (1 + comps) * n * w // 8
    assert len(encode_secret_key(sk)) == secret_key_size(DEFAULT) == HEADER + comps * n // 4
    assert ciphertext_size(DEFAULT, 1) == HEADER + 4 + 3 * 2 * n * w // 8
    assert ciphertext_size(DEFAULT, 8) == HEADER + 4 + 3 * 9 * n * w // 8
    assert ciphertext_size(DEFAULT, 9) == HEADER + 4 + 3 * 11 * n * w // 8  # partial group
    assert blob[:4] == MAGIC and blob[4] == FORMAT_VERSION == 2 and blob[5] == 1
    assert blob[6:22] == DEFAULT.id_bytes
    # per prime: a, then b_1..b_L'; first residue of a mod p_0 in the low 27 bits
    assert int.from_bytes(blob[22:26], "little") & (2**w - 1) == int(pk.a[0, 0])
    first_b1 = HEADER * 8 + n * w
    assert naive_unpack(blob, first_b1, w, 2) == [int(pk.b[0, 0, 0]), int(pk.b[0, 0, 1])]
    last_b_p0 = HEADER * 8 + ((1 + comps) * n - 1) * w
    assert naive_unpack(blob, last_b_p0, w, 2) == [int(pk.b[-1, 0, -1]), int(pk.a[1, 0])]
    with pytest.raises(ValueError):
        ciphertext_size(DEFAULT, 0)


def test_layouts_against_naive_twin(keys_n64):
    sk, pk = keys_n64
    naive_body(INSECURE_N64, [pk.a[None], pk.b], HEADER * 8, encode_public_key(pk))
    for k in (1, 3, 5):
        ct = encrypt(pk, np.zeros((k, 64), np.int64))
        blob = encode_ciphertexts(ct)
        assert blob[5] == 3 and int.from_bytes(blob[HEADER:HEADER + 4], "little") == k
        naive_body(INSECURE_N64, [ct.c1, ct.c0], (HEADER + 4) * 8, blob)
    blob = encode_secret_key(sk)
    assert naive_unpack(blob, HEADER * 8, 2, 3 * 64) == [int(v) + 1 for v in sk.s.ravel()]
    assert len(blob) == HEADER + 3 * 64 * 2 // 8


def test_canonical_encoding_of_secret_key():
    s = np.array([-1, 0, 1, 1] * 48, np.int64).reshape(3, 64)
    s[1, :4] = [1, 1, -1, 0]  # s_2 starts right after the N coefficients of s_1
    blob = encode_secret_key(SecretKey(INSECURE_N64, s))
    # s_i + 1 at two bits, little-endian: (0, 1, 2, 2) → 0b10_10_01_00
    assert blob[HEADER] == 0b10100100
    assert blob[HEADER + 64 // 4] == 0b01001010  # (2, 2, 0, 1)
    assert len(blob) == secret_key_size(INSECURE_N64)
    with pytest.raises(ValueError):
        encode_secret_key(SecretKey(INSECURE_N64, s * 2))
    with pytest.raises(ValueError):
        SecretKey(INSECURE_N64, s[0])  # v2's single secret (N,) no longer fits


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
    for version in (0, 1, 3, 255):
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


@pytest.mark.parametrize("kind", ["pk", "sk", "ct"])
def test_old_format_version_1_rejected(blobs, keys_n64, kind):
    """A v2-era encoding (version 1: pk (p0, p1), sk N coefficients, ct 2 polynomials per
    chunk) is refused by its version byte, whatever its length."""
    blob, dec = blobs[kind]
    n, w = 64, INSECURE_N64.primes[0].bit_length()
    old_body = {"pk": 3 * 2 * n * w // 8, "sk": 2 * n // 8,
                "ct": 4 + 3 * 2 * K_BLOB * n * w // 8}[kind]
    header_v1 = blob[:4] + b"\x01" + blob[5:HEADER]
    for body in (blob[HEADER:], bytes(old_body)):
        with pytest.raises(BfvDecodeError, match="unsupported format version 1"):
            dec(header_v1 + body, INSECURE_N64)
        with pytest.raises(BfvDecodeError, match="version"):
            dec(header_v1 + body)


def _set_residue(blob: bytes, offset_bits: int, width: int, value: int) -> bytes:
    """Overwrite one packed value (little-endian bit stream after the header)."""
    as_int = int.from_bytes(blob, "little")
    pos = offset_bits
    as_int &= ~(((1 << width) - 1) << pos)
    as_int |= value << pos
    return as_int.to_bytes(len(blob), "little")


@pytest.mark.parametrize("j", [0, 1, 2])
def test_rejects_residue_out_of_range(blobs, j):
    n, comps, g = 64, INSECURE_N64.components, INSECURE_N64.groups(K_BLOB)
    widths = [p.bit_length() for p in INSECURE_N64.primes]
    p, w = INSECURE_N64.primes[j], widths[j]
    pk_rows, ct_rows = 1 + comps, g + K_BLOB
    for kind, start_bits, rows in (
            ("pk", HEADER * 8 + sum(widths[:j]) * pk_rows * n, pk_rows),
            ("ct", (HEADER + 4) * 8 + sum(widths[:j]) * ct_rows * n, ct_rows)):
        blob, dec = blobs[kind]
        # first row (a / c1), a middle row (b_1 / c1 of group 2) and the last value
        for idx in (0, 5, n + 3, rows * n - 1):
            for bad in (p, 2**w - 1):
                forged = _set_residue(blob, start_bits + idx * w, w, bad)
                with pytest.raises(BfvDecodeError, match="out of range"):
                    dec(forged, INSECURE_N64)
            ok = _set_residue(blob, start_bits + idx * w, w, p - 1)  # largest valid residue
            obj = dec(ok, INSECURE_N64)
            flat = (np.concatenate([obj.a[None], obj.b]) if kind == "pk"
                    else np.concatenate([obj.c1, obj.c0]))
            assert int(flat[idx // n, j, idx % n]) == p - 1


def test_rejects_bad_secret_coefficient(blobs):
    blob, _ = blobs["sk"]
    for idx in (0, 63, 64, 3 * 64 - 1):  # in s_1, s_2 and the last one of s_3
        forged = _set_residue(blob, HEADER * 8 + 2 * idx, 2, 3)
        with pytest.raises(BfvDecodeError, match="secret"):
            decode_secret_key(forged, INSECURE_N64)


@pytest.mark.parametrize("params", [DEFAULT, INSECURE_N256, INSECURE_N64])
def test_no_padding_bits_exist(params):
    """N ≥ 16 is a multiple of 8, so every packed stream (rows·N·w bits per prime, 2 bits
    per secret coefficient) ends on a byte boundary: the format has no padding bits to
    forge. The residue/coefficient range checks above are what reject stray high bits."""
    comps = params.components
    per_poly = sum(params.n * p.bit_length() for p in params.primes)
    assert all(params.n * p.bit_length() % 8 == 0 for p in params.primes)
    assert public_key_size(params) == HEADER + (1 + comps) * per_poly // 8
    for k in (1, comps, comps + 1, 5 * comps - 1):
        rows = k + params.groups(k)
        assert ciphertext_size(params, k) == HEADER + 4 + rows * per_poly // 8
    assert secret_key_size(params) == HEADER + 2 * comps * params.n // 8


def test_rejects_over_size_and_zero_chunks(blobs):
    blob, _ = blobs["ct"]
    assert len(decode_ciphertexts(blob, INSECURE_N64, max_chunks=K_BLOB)) == K_BLOB
    with pytest.raises(BfvDecodeError, match="exceeds"):
        decode_ciphertexts(blob, INSECURE_N64, max_chunks=K_BLOB - 1)
    zero = blob[:HEADER] + struct.pack("<I", 0)
    with pytest.raises(BfvDecodeError, match="zero"):
        decode_ciphertexts(zero, INSECURE_N64)
    # a huge announced count with a short body: rejected by length, no allocation
    huge = blob[:HEADER] + struct.pack("<I", 2**32 - 1) + blob[HEADER + 4:]
    with pytest.raises(BfvDecodeError, match="truncated"):
        decode_ciphertexts(huge, INSECURE_N64)
    with pytest.raises(BfvDecodeError, match="exceeds"):
        decode_ciphertexts(huge, INSECURE_N64, max_chunks=1000)
    # the count fixes both c0 rows (k) and c1 rows (⌈k/L'⌉): a body for 4 chunks (2 + 4
    # rows) is too long for k = 3 (1 + 3), k = 2 (1 + 2), and too short for k = 5 (2 + 5)
    for k, why in ((3, "trailing"), (2, "trailing"), (5, "truncated"), (6, "truncated")):
        forged = blob[:HEADER] + struct.pack("<I", k) + blob[HEADER + 4:]
        with pytest.raises(BfvDecodeError, match=why):
            decode_ciphertexts(forged, INSECURE_N64)


def test_encoders_reject_invalid_objects(keys_n64):
    _, pk = keys_n64
    p0 = INSECURE_N64.primes[0]
    for bad in (PublicKey(INSECURE_N64, pk.a + p0, pk.b), PublicKey(INSECURE_N64, pk.a, -pk.b),
                PublicKey(INSECURE_N64, pk.a, pk.b + p0)):
        with pytest.raises(ValueError, match="out of range"):
            encode_public_key(bad)
    ct = encrypt(pk, np.zeros((4, 64), np.int64))
    for bad_ct in (Ciphertexts(INSECURE_N64, ct.c0 + p0, ct.c1),
                   Ciphertexts(INSECURE_N64, ct.c0, ct.c1 - p0)):
        with pytest.raises(ValueError, match="out of range"):
            encode_ciphertexts(bad_ct)
    with pytest.raises(ValueError):  # no empty batch can even be built
        Ciphertexts(INSECURE_N64, np.zeros((0, 3, 64), np.int64), np.zeros((0, 3, 64), np.int64))


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


_PARAMS = st.sampled_from([INSECURE_N64, INSECURE_N256])


@given(_PARAMS, st.integers(1, 9), st.binary(min_size=8, max_size=8))
def test_round_trip_arbitrary_ciphertexts(params, k, seed):
    """Any residues (not only encryptions) round-trip and re-encode to the same bytes."""
    rng = Csprng.from_seed(seed, b"codec-ct")
    g = params.groups(k)
    ct = Ciphertexts(params, uniform_mod(rng, params.primes, (k, params.n)),
                     uniform_mod(rng, params.primes, (g, params.n)))
    blob = encode_ciphertexts(ct)
    assert len(blob) == ciphertext_size(params, k)
    got = decode_ciphertexts(blob, params)
    assert np.array_equal(got.c0, ct.c0) and np.array_equal(got.c1, ct.c1)
    assert encode_ciphertexts(got) == blob and decode_ciphertexts(blob).params is params


@given(_PARAMS, st.binary(min_size=8, max_size=8))
def test_round_trip_arbitrary_keys(params, seed):
    rng = Csprng.from_seed(seed, b"codec-keys")
    comps, n = params.components, params.n
    pk = PublicKey(params, uniform_mod(rng, params.primes, (n,)),
                   uniform_mod(rng, params.primes, (comps, n)))
    blob = encode_public_key(pk)
    got = decode_public_key(blob, params)
    assert np.array_equal(got.a, pk.a) and np.array_equal(got.b, pk.b)
    assert encode_public_key(got) == blob and got.digest == pk.digest
    s = np.frombuffer(rng.random_bytes(comps * n), np.uint8).astype(np.int64) % 3 - 1
    sk = SecretKey(params, s.reshape(comps, n))
    blob = encode_secret_key(sk)
    got_sk = decode_secret_key(blob, params)
    assert np.array_equal(got_sk.s, sk.s) and encode_secret_key(got_sk) == blob
