"""Key files: round trips, strict parsing, permissions."""

from __future__ import annotations

import base64
import os
import stat
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkflpq.pq import (
    AnyKey,
    DecodeError,
    KemAlgorithm,
    KemPrivateKey,
    KemPublicKey,
    KeyFilePermissionError,
    SigningKey,
    VerifyKey,
    decode_key,
    encode_key,
    load_key,
    save_key,
)
from zkflpq.pq.keyfile import KEYFILE_MAGIC


def _same(a: AnyKey, b: AnyKey) -> bool:
    return type(a) is type(b) and a.to_bytes() == b.to_bytes() and a.algorithm == b.algorithm


def _all_keys() -> list[AnyKey]:
    keys: list[AnyKey] = []
    for alg in KemAlgorithm:
        sk = KemPrivateKey.generate(alg)
        keys += [sk, sk.public_key()]
    ssk = SigningKey.generate()
    return [*keys, ssk, ssk.verify_key()]


KEYS = _all_keys()
IDS = ["xwing-priv", "xwing-pub", "mlkem-priv", "mlkem-pub", "sig-priv", "sig-pub"]
PRIVATE = (KemPrivateKey, SigningKey)


@pytest.mark.parametrize("key", KEYS, ids=IDS)
@pytest.mark.parametrize("armor", [True, False], ids=["armor", "binary"])
def test_file_round_trip(tmp_path: Path, key: AnyKey, armor: bool) -> None:
    path = tmp_path / "key"
    save_key(path, key, armor=armor)
    loaded = load_key(path)
    assert _same(loaded, key)
    assert _same(load_key(str(path), type(key)), key)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == (0o600 if isinstance(key, PRIVATE) else 0o644)


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_private_key_written_0600_even_with_permissive_umask(tmp_path: Path, key: AnyKey) -> None:
    old = os.umask(0)
    try:
        save_key(tmp_path / "k", key)
        save_key(tmp_path / "k", key, overwrite=True)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "k").st_mode)
    assert mode == (0o600 if isinstance(key, PRIVATE) else 0o644)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".zkflpq-key-")]


def test_no_silent_overwrite(tmp_path: Path) -> None:
    key = KEYS[0]
    save_key(tmp_path / "k", key)
    with pytest.raises(FileExistsError):
        save_key(tmp_path / "k", KEYS[2])
    save_key(tmp_path / "k", KEYS[2], overwrite=True)
    assert _same(load_key(tmp_path / "k"), KEYS[2])


def test_group_readable_private_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    save_key(path, KEYS[0])
    os.chmod(path, 0o640)
    with pytest.raises(KeyFilePermissionError):
        load_key(path)
    assert _same(load_key(path, check_permissions=False), KEYS[0])
    pub = tmp_path / "pub"
    save_key(pub, KEYS[1])
    os.chmod(pub, 0o644)
    load_key(pub)  # public keys may be world-readable


def test_expect_wrong_type(tmp_path: Path) -> None:
    save_key(tmp_path / "k", KEYS[1])
    with pytest.raises(DecodeError):
        load_key(tmp_path / "k", KemPrivateKey)
    with pytest.raises(DecodeError):
        decode_key(encode_key(KEYS[4]), VerifyKey)


def test_armour_format(tmp_path: Path) -> None:
    text = encode_key(KEYS[0]).decode()
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN ZKFLPQ KEM PRIVATE KEY-----"
    assert lines[-1] == "-----END ZKFLPQ KEM PRIVATE KEY-----"
    assert text.endswith("\n")
    assert all(len(line) <= 64 for line in lines[1:-1])
    # CRLF line endings and extra trailing newlines are tolerated.
    assert _same(decode_key(text.replace("\n", "\r\n").encode() + b"\r\n\n"), KEYS[0])


def test_binary_layout() -> None:
    raw = encode_key(KEYS[2], armor=False)
    assert raw[:10] == KEYFILE_MAGIC == b"ZKFLPQ-KEY"
    assert raw[10:13] == bytes([1, 1, int(KemAlgorithm.MLKEM768)])
    assert struct.unpack(">I", raw[13:17])[0] == 64
    assert raw[17:] == KEYS[2].to_bytes()


# -- strict parsing ---------------------------------------------------------------


def _binary(key: AnyKey) -> bytes:
    return encode_key(key, armor=False)


@pytest.mark.parametrize("key", KEYS, ids=IDS)
def test_every_truncation_rejected(key: AnyKey) -> None:
    raw = _binary(key)
    for n in range(len(raw)):
        with pytest.raises(DecodeError):
            decode_key(raw[:n])
    with pytest.raises(DecodeError):
        decode_key(raw + b"\x00")


@pytest.mark.parametrize(
    "offset, value, what",
    [
        (0, ord("z"), "magic"),
        (9, ord("K"), "magic"),
        (10, 0, "version"),
        (10, 2, "version"),
        (11, 0, "kind"),
        (11, 5, "kind"),
        (12, 0, "algorithm"),
        (12, 9, "algorithm"),
    ],
)
def test_bad_header_fields(offset: int, value: int, what: str) -> None:
    raw = bytearray(_binary(KEYS[0]))
    raw[offset] = value
    with pytest.raises(DecodeError, match=what):
        decode_key(bytes(raw))


def test_kind_swapped_is_length_mismatch() -> None:
    # X-Wing private key relabelled as public / ML-KEM relabelled as X-Wing.
    raw = bytearray(_binary(KEYS[0]))
    raw[11] = 2
    with pytest.raises(DecodeError):
        decode_key(bytes(raw))
    raw = bytearray(_binary(KEYS[2]))
    raw[12] = int(KemAlgorithm.XWING)
    with pytest.raises(DecodeError):
        decode_key(bytes(raw))


def test_length_field_mismatch() -> None:
    raw = bytearray(_binary(KEYS[0]))
    raw[16] += 1
    with pytest.raises(DecodeError):
        decode_key(bytes(raw))


def test_invalid_key_material_in_valid_container() -> None:
    raw = bytearray(_binary(KEYS[3]))  # ML-KEM public key
    raw[17] = 0xFF
    raw[18] |= 0x0F  # coefficient 4095 >= q
    with pytest.raises(DecodeError):
        decode_key(bytes(raw))


def _armored(label: str, body: bytes) -> bytes:
    b64 = base64.b64encode(body).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace(b"KEM PRIVATE KEY", b"KEM PUBLIC KEY"),  # label vs kind
        lambda t: t.replace(b"-----END ZKFLPQ KEM PRIVATE KEY-----", b""),
        lambda t: t.replace(b"-----END ZKFLPQ KEM PRIVATE", b"-----END ZKFLPQ KEM PUBLIC"),
        lambda t: t + b"trailing junk\n",
        lambda t: t.replace(b"\n", b"\n ", 1),  # whitespace inside base64
        lambda t: t.replace(b"=", b""),  # missing padding
        lambda t: t[:40] + b"*" + t[41:],  # non-base64 character
        lambda t: t.replace(b"-----BEGIN", b"-----BEGIN", 1).replace(b"\n", b"\n\n", 1),
        lambda t: t[:-1] + "é".encode(),
    ],
)
def test_bad_armour(mangle) -> None:  # type: ignore[no-untyped-def]
    text = encode_key(KEYS[0])
    assert b"=" in text  # the mangles above assume padding is present
    with pytest.raises(DecodeError):
        decode_key(mangle(text))


def test_non_canonical_base64_rejected() -> None:
    good = _armored("ZKFLPQ KEM PRIVATE KEY", _binary(KEYS[0]))
    assert _same(decode_key(good), KEYS[0])
    # 49-byte body -> 2 padding chars; flipping a low bit of the last data char
    # changes only unused bits, which non-strict decoders silently accept.
    text = bytearray(good)
    last = text.index(b"==") - 1
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text[last] = alphabet[alphabet.index(text[last]) ^ 1]
    assert base64.b64decode(bytes(text).splitlines()[1]) == base64.b64decode(good.splitlines()[1])
    with pytest.raises(DecodeError, match="canonical"):
        decode_key(bytes(text))


def test_oversized_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"-----BEGIN " + b"A" * (70 * 1024))
    with pytest.raises(DecodeError):
        load_key(path)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=120).map(lambda b: KEYFILE_MAGIC + b)))
def test_fuzz_binary_decoder(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_key(data)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_armour_decoder(text: str) -> None:
    with pytest.raises(DecodeError):
        decode_key(("-----BEGIN ZKFLPQ KEM PUBLIC KEY-----\n" + text).encode("utf-8", "replace"))


def test_save_rejects_non_keys(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        save_key(tmp_path / "k", b"raw bytes")  # type: ignore[arg-type]


def test_public_key_types_are_distinct() -> None:
    assert isinstance(decode_key(encode_key(KEYS[1])), KemPublicKey)
    assert isinstance(decode_key(encode_key(KEYS[5])), VerifyKey)
