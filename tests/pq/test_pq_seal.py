"""Sealed requests/responses: round trips, tamper detection, strict decoding, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkflpq.pq import (
    DecodeError,
    KemAlgorithm,
    KemPrivateKey,
    SealError,
    open_sealed,
    request_context,
    seal,
)
from zkflpq.pq.sealing import MAGIC, VERSION

CTX = request_context("POST", "/v1/rounds/7/updates", "client-42", 1_700_000_000, "zkflpq/1")
HEADER = len(MAGIC) + 3


def _layout(alg: KemAlgorithm) -> tuple[int, int]:
    """(offset of the u32 length field, offset of the ciphertext) in a request."""
    len_at = HEADER + alg.encapsulation_size
    return len_at, len_at + 4


# -- round trips ------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [b"", b"x", b"model update " * 1000])
def test_round_trip(kem_key: KemPrivateKey, plaintext: bytes) -> None:
    sealed, sender_rk = seal(kem_key.public_key(), plaintext, CTX)
    opened, receiver_rk = open_sealed(kem_key, sealed, CTX)
    assert opened == plaintext
    assert len(sealed) == _layout(kem_key.algorithm)[1] + len(plaintext) + 16
    response = receiver_rk.seal(b"accepted", b"resp-ctx")
    assert sender_rk.open(response, b"resp-ctx") == b"accepted"
    assert len(response) == HEADER + 12 + 4 + len(b"accepted") + 16


def test_header_layout(kem_key: KemPrivateKey) -> None:
    alg = kem_key.algorithm
    sealed, _ = seal(kem_key.public_key(), b"abc", CTX)
    assert sealed[:4] == b"ZKPQ"
    assert sealed[4:7] == bytes([1, 1, int(alg)])
    len_at, ct_at = _layout(alg)
    assert struct.unpack(">I", sealed[len_at:ct_at])[0] == 3 + 16


def test_seals_are_randomised(kem_key: KemPrivateKey) -> None:
    a, _ = seal(kem_key.public_key(), b"same", CTX)
    b, _ = seal(kem_key.public_key(), b"same", CTX)
    assert a != b


def test_large_plaintext(kem_key: KemPrivateKey) -> None:
    blob = bytes(range(256)) * 8192  # 2 MiB
    sealed, _ = seal(kem_key.public_key(), blob, CTX)
    assert open_sealed(kem_key, sealed, CTX)[0] == blob


# -- tampering --------------------------------------------------------------------


def test_every_byte_flip_fails(kem_key: KemPrivateKey) -> None:
    sealed, _ = seal(kem_key.public_key(), b"tiny", CTX)
    len_at, ct_at = _layout(kem_key.algorithm)
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x01
        # Header and length field are checked structurally; the encapsulation,
        # ciphertext and tag can only be caught by authentication.
        expected = DecodeError if i < HEADER or len_at <= i < ct_at else SealError
        with pytest.raises(expected):
            open_sealed(kem_key, bytes(bad), CTX)


def test_every_context_byte_flip_fails(kem_key: KemPrivateKey) -> None:
    sealed, _ = seal(kem_key.public_key(), b"tiny", CTX)
    for i in range(len(CTX)):
        bad = bytearray(CTX)
        bad[i] ^= 0x01
        with pytest.raises(SealError):
            open_sealed(kem_key, sealed, bytes(bad))
    for other in (b"", CTX[:-1], CTX + b"\x00"):
        with pytest.raises(SealError):
            open_sealed(kem_key, sealed, other)


@pytest.mark.parametrize(
    "changed",
    [
        ("GET", "/v1/rounds/7/updates", "client-42", 1_700_000_000, "zkflpq/1"),
        ("POST", "/v1/rounds/8/updates", "client-42", 1_700_000_000, "zkflpq/1"),
        ("POST", "/v1/rounds/7/updates", "client-43", 1_700_000_000, "zkflpq/1"),
        ("POST", "/v1/rounds/7/updates", "client-42", 1_700_000_001, "zkflpq/1"),
        ("POST", "/v1/rounds/7/updates", "client-42", 1_700_000_000, "zkflpq/2"),
    ],
)
def test_request_context_fields_are_bound(
    kem_key: KemPrivateKey, changed: tuple[str, str, str, int, str]
) -> None:
    sealed, _ = seal(kem_key.public_key(), b"update", CTX)
    with pytest.raises(SealError):
        open_sealed(kem_key, sealed, request_context(*changed))


def test_wrong_recipient_same_algorithm(kem_key: KemPrivateKey) -> None:
    other = KemPrivateKey.generate(kem_key.algorithm)
    sealed, _ = seal(kem_key.public_key(), b"secret", CTX)
    with pytest.raises(SealError):
        open_sealed(other, sealed, CTX)


def test_wrong_recipient_algorithm(kem_keys: dict[KemAlgorithm, KemPrivateKey]) -> None:
    sealed, _ = seal(kem_keys[KemAlgorithm.XWING].public_key(), b"secret", CTX)
    with pytest.raises(DecodeError):
        open_sealed(kem_keys[KemAlgorithm.MLKEM768], sealed, CTX)


def test_algorithm_id_swapped_in_header(kem_keys: dict[KemAlgorithm, KemPrivateKey]) -> None:
    # Relabel an ML-KEM message as X-Wing: lengths no longer add up.
    sealed, _ = seal(kem_keys[KemAlgorithm.MLKEM768].public_key(), b"secret", CTX)
    bad = bytearray(sealed)
    bad[6] = int(KemAlgorithm.XWING)
    with pytest.raises(DecodeError):
        open_sealed(kem_keys[KemAlgorithm.XWING], bytes(bad), CTX)


# -- responses --------------------------------------------------------------------


def test_response_every_byte_flip_and_context(kem_key: KemPrivateKey) -> None:
    sealed, sender_rk = seal(kem_key.public_key(), b"req", CTX)
    _, receiver_rk = open_sealed(kem_key, sealed, CTX)
    response = receiver_rk.seal(b"ok", b"rctx")
    for i in range(len(response)):
        bad = bytearray(response)
        bad[i] ^= 0x01
        with pytest.raises(DecodeError if i < HEADER or 19 <= i < 23 else SealError):
            sender_rk.open(bytes(bad), b"rctx")
    for ctx in (b"", b"rctX", CTX):
        with pytest.raises(SealError):
            sender_rk.open(response, ctx)


def test_responses_use_fresh_nonces(kem_key: KemPrivateKey) -> None:
    sealed, sender_rk = seal(kem_key.public_key(), b"req", CTX)
    _, receiver_rk = open_sealed(kem_key, sealed, CTX)
    r1, r2 = receiver_rk.seal(b"ok", b""), receiver_rk.seal(b"ok", b"")
    assert r1 != r2
    assert sender_rk.open(r1, b"") == sender_rk.open(r2, b"") == b"ok"


def test_response_from_other_session_fails(kem_key: KemPrivateKey) -> None:
    sealed1, sender_rk1 = seal(kem_key.public_key(), b"one", CTX)
    sealed2, _ = seal(kem_key.public_key(), b"two", CTX)
    _, receiver_rk2 = open_sealed(kem_key, sealed2, CTX)
    with pytest.raises(SealError):
        sender_rk1.open(receiver_rk2.seal(b"for session 2", b""), b"")


def test_response_not_openable_as_request_and_vice_versa(kem_key: KemPrivateKey) -> None:
    sealed, sender_rk = seal(kem_key.public_key(), b"req", CTX)
    _, receiver_rk = open_sealed(kem_key, sealed, CTX)
    response = receiver_rk.seal(b"resp", CTX)
    with pytest.raises(DecodeError):
        open_sealed(kem_key, response, CTX)
    with pytest.raises(DecodeError):
        sender_rk.open(sealed, CTX)
    # Even with the type byte rewritten, the keys differ, so authentication fails.
    as_request = bytearray(response)
    as_request[5] = 0x01
    with pytest.raises((DecodeError, SealError)):
        open_sealed(kem_key, bytes(as_request), CTX)
    as_response = bytearray(sealed)
    as_response[5] = 0x02
    with pytest.raises((DecodeError, SealError)):
        sender_rk.open(bytes(as_response), CTX)


def test_response_algorithm_mismatch(kem_key: KemPrivateKey) -> None:
    sealed, sender_rk = seal(kem_key.public_key(), b"req", CTX)
    _, receiver_rk = open_sealed(kem_key, sealed, CTX)
    bad = bytearray(receiver_rk.seal(b"resp", b""))
    bad[6] = 3 - bad[6]  # swap 1 <-> 2
    with pytest.raises(DecodeError):
        sender_rk.open(bytes(bad), b"")


# -- strict decoding --------------------------------------------------------------


def test_every_truncation_is_decode_error(kem_key: KemPrivateKey) -> None:
    sealed, _ = seal(kem_key.public_key(), b"tiny", CTX)
    for n in range(len(sealed)):
        with pytest.raises(DecodeError):
            open_sealed(kem_key, sealed[:n], CTX)


@pytest.mark.parametrize("pad", [b"\x00", b"\x00" * 16, b"garbage"])
def test_padding_is_decode_error(kem_key: KemPrivateKey, pad: bytes) -> None:
    sealed, rk = seal(kem_key.public_key(), b"tiny", CTX)
    with pytest.raises(DecodeError):
        open_sealed(kem_key, sealed + pad, CTX)
    _, receiver_rk = open_sealed(kem_key, sealed, CTX)
    with pytest.raises(DecodeError):
        rk.open(receiver_rk.seal(b"r", b"") + pad, b"")


@pytest.mark.parametrize("version", [0, 2, 255])
def test_wrong_version(kem_key: KemPrivateKey, version: int) -> None:
    sealed, _ = seal(kem_key.public_key(), b"tiny", CTX)
    bad = bytearray(sealed)
    bad[4] = version
    with pytest.raises(DecodeError, match="version"):
        open_sealed(kem_key, bytes(bad), CTX)


@pytest.mark.parametrize("alg_id", [0, 3, 255])
def test_unknown_algorithm(kem_key: KemPrivateKey, alg_id: int) -> None:
    sealed, _ = seal(kem_key.public_key(), b"tiny", CTX)
    bad = bytearray(sealed)
    bad[6] = alg_id
    with pytest.raises(DecodeError, match="algorithm"):
        open_sealed(kem_key, bytes(bad), CTX)


def test_length_field_below_tag_size(kem_key: KemPrivateKey) -> None:
    sealed, _ = seal(kem_key.public_key(), b"", CTX)
    len_at, ct_at = _layout(kem_key.algorithm)
    for n in (0, 15):
        bad = sealed[:len_at] + struct.pack(">I", n) + sealed[ct_at : ct_at + n]
        with pytest.raises(DecodeError):
            open_sealed(kem_key, bad, CTX)


def test_non_bytes_input_is_decode_error(kem_key: KemPrivateKey) -> None:
    for junk in (None, "ZKPQ", 42, [1, 2]):
        with pytest.raises(DecodeError):
            open_sealed(kem_key, junk, CTX)  # type: ignore[arg-type]


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TYPED = (DecodeError, SealError)


def _prefixes(alg: KemAlgorithm) -> st.SearchStrategy[bytes]:
    # Valid-looking headers let the fuzzer get past the magic check.
    return st.sampled_from(
        [
            b"",
            MAGIC,
            MAGIC + bytes([VERSION, 1, int(alg)]),
            MAGIC + bytes([VERSION, 2, int(alg)]),
        ]
    )


@FUZZ
@given(data=st.data())
def test_fuzz_request_decoder(kem_key: KemPrivateKey, data: st.DataObject) -> None:
    alg = kem_key.algorithm
    prefix = data.draw(_prefixes(alg))
    body = data.draw(st.binary(max_size=alg.encapsulation_size + 64))
    if data.draw(st.booleans()):
        # Make the length field consistent so decapsulation + AEAD really run.
        enc = body[: alg.encapsulation_size].ljust(alg.encapsulation_size, b"\x00")
        ct = body[alg.encapsulation_size :]
        body = enc + struct.pack(">I", len(ct)) + ct
    try:
        open_sealed(kem_key, prefix + body, CTX)
    except TYPED:
        pass
    else:  # pragma: no cover - would be a forgery
        pytest.fail("random bytes opened")


@FUZZ
@given(data=st.data())
def test_fuzz_response_decoder(kem_key: KemPrivateKey, data: st.DataObject) -> None:
    _, rk = seal(kem_key.public_key(), b"x", CTX)
    prefix = data.draw(_prefixes(kem_key.algorithm))
    body = data.draw(st.binary(max_size=64))
    if data.draw(st.booleans()) and len(body) >= 12:
        body = body[:12] + struct.pack(">I", len(body) - 12) + body[12:]
    try:
        rk.open(prefix + body, b"")
    except TYPED:
        pass
    else:  # pragma: no cover
        pytest.fail("random bytes opened")


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    with pytest.raises(TYPED):
        open_sealed(_FUZZ_KEY, raw, CTX)


_FUZZ_KEY = KemPrivateKey.generate()


@FUZZ
@given(data=st.data())
def test_fuzz_mutations_of_valid_message(kem_key: KemPrivateKey, data: st.DataObject) -> None:
    sealed, _ = seal(kem_key.public_key(), b"payload", CTX)
    bad = bytearray(sealed)
    # Draws must not depend on the (random) message bytes, so XOR non-zero
    # deltas into distinct positions: the result always differs from `sealed`.
    positions = data.draw(
        st.lists(st.integers(0, len(bad) - 1), min_size=1, max_size=4, unique=True)
    )
    for i in positions:
        bad[i] ^= data.draw(st.integers(1, 255))
    with pytest.raises(TYPED):
        open_sealed(kem_key, bytes(bad), CTX)


# -- request_context --------------------------------------------------------------


def test_request_context_known_encoding() -> None:
    got = request_context("POST", "/p", "id", 1, "v1")
    expected = (
        b"\x00\x00\x00\x1czkflpq/pq/request-context/v1"
        b"\x00\x00\x00\x04POST"
        b"\x00\x00\x00\x02/p"
        b"\x00\x00\x00\x02id"
        b"\x00\x00\x00\x00\x00\x00\x00\x01"
        b"\x00\x00\x00\x02v1"
    )
    assert got == expected


def test_request_context_field_boundaries_unambiguous() -> None:
    assert request_context("a", "bc", "d", 0, "v") != request_context("ab", "c", "d", 0, "v")
    assert request_context("a", "b", "", 0, "v") != request_context("a", "", "b", 0, "v")
    assert request_context("a", "b", "c", -1, "v") != request_context("a", "b", "c", 2**63 - 1, "v")


_text = st.text(max_size=12)
_fields = st.tuples(_text, _text, _text, st.integers(-(2**63), 2**63 - 1), _text)


@settings(max_examples=300, deadline=None)
@given(a=_fields, b=_fields)
def test_request_context_injective(
    a: tuple[str, str, str, int, str], b: tuple[str, str, str, int, str]
) -> None:
    assert (request_context(*a) == request_context(*b)) == (a == b)


@pytest.mark.parametrize(
    "args, exc",
    [
        ((b"POST", "/", "s", 0, "v"), TypeError),
        (("POST", "/", "s", 1.0, "v"), TypeError),
        (("POST", "/", "s", True, "v"), TypeError),
        (("POST", "/", "s", 2**63, "v"), ValueError),
        (("POST", "/\udc80", "s", 0, "v"), ValueError),
    ],
)
def test_request_context_rejects_bad_arguments(args: tuple, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        request_context(*args)
