"""Versioned key files for KEM and signature keys.

Binary layout (integers big-endian)::

    magic   10 bytes  "ZKFLPQ-KEY"
    version  1 byte   0x01
    kind     1 byte   0x01 kem-private | 0x02 kem-public | 0x03 sig-private | 0x04 sig-public
    alg      1 byte   KemAlgorithm id (kem-*) or SigAlgorithm id (sig-*)
    length   4 bytes  u32, must equal the raw size of that kind and algorithm
    raw      length bytes  (private keys: the seed; public keys: the FIPS/draft encoding)

Armoured form (the default for files): the binary layout in base64, 64
characters per line, between ``-----BEGIN ZKFLPQ <LABEL>-----`` and
``-----END ZKFLPQ <LABEL>-----`` where ``<LABEL>`` names the kind and must
agree with the kind byte.  Base64 must be canonical; only trailing newlines may
follow the END line.  Private key files are created with mode 0o600.
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
import stat
import struct
import tempfile
from typing import TypeAlias, TypeVar, overload

from . import sign
from ._util import u32
from .errors import DecodeError, KeyFilePermissionError
from .kem import KemAlgorithm, KemPrivateKey, KemPublicKey
from .sign import SigAlgorithm, SigningKey, VerifyKey

__all__ = [
    "KEYFILE_MAGIC",
    "KEYFILE_VERSION",
    "AnyKey",
    "KeyKind",
    "decode_key",
    "encode_key",
    "load_key",
    "save_key",
]

KEYFILE_MAGIC = b"ZKFLPQ-KEY"
KEYFILE_VERSION = 1

_FIXED_SIZE = len(KEYFILE_MAGIC) + 3 + 4
_MAX_FILE_SIZE = 64 * 1024
_LINE_WIDTH = 64

AnyKey: TypeAlias = KemPrivateKey | KemPublicKey | SigningKey | VerifyKey
K = TypeVar("K", KemPrivateKey, KemPublicKey, SigningKey, VerifyKey)


class KeyKind(enum.IntEnum):
    """What a key file holds; the integer value is the kind byte."""

    KEM_PRIVATE = 1
    KEM_PUBLIC = 2
    SIG_PRIVATE = 3
    SIG_PUBLIC = 4

    @property
    def armor_label(self) -> str:
        return _ARMOR_LABELS[self]

    @property
    def is_private(self) -> bool:
        return self in (KeyKind.KEM_PRIVATE, KeyKind.SIG_PRIVATE)


_ARMOR_LABELS = {
    KeyKind.KEM_PRIVATE: "ZKFLPQ KEM PRIVATE KEY",
    KeyKind.KEM_PUBLIC: "ZKFLPQ KEM PUBLIC KEY",
    KeyKind.SIG_PRIVATE: "ZKFLPQ SIG PRIVATE KEY",
    KeyKind.SIG_PUBLIC: "ZKFLPQ SIG PUBLIC KEY",
}

_KIND_OF_TYPE: dict[type, KeyKind] = {
    KemPrivateKey: KeyKind.KEM_PRIVATE,
    KemPublicKey: KeyKind.KEM_PUBLIC,
    SigningKey: KeyKind.SIG_PRIVATE,
    VerifyKey: KeyKind.SIG_PUBLIC,
}


def _kind_of(key: object) -> KeyKind:
    kind = _KIND_OF_TYPE.get(type(key))
    if kind is None:
        raise TypeError(f"not a zkflpq.pq key: {type(key).__name__}")
    return kind


def _alg_id(key: AnyKey) -> int:
    return int(key.algorithm)


def _raw_size(kind: KeyKind, alg_id: int) -> int:
    if kind in (KeyKind.KEM_PRIVATE, KeyKind.KEM_PUBLIC):
        alg = KemAlgorithm.from_id(alg_id)
        return alg.private_key_size if kind is KeyKind.KEM_PRIVATE else alg.public_key_size
    SigAlgorithm.from_id(alg_id)
    return sign.PRIVATE_KEY_SIZE if kind is KeyKind.SIG_PRIVATE else sign.PUBLIC_KEY_SIZE


def _build(kind: KeyKind, alg_id: int, raw: bytes) -> AnyKey:
    if kind is KeyKind.KEM_PRIVATE:
        return KemPrivateKey.from_bytes(KemAlgorithm.from_id(alg_id), raw)
    if kind is KeyKind.KEM_PUBLIC:
        return KemPublicKey.from_bytes(KemAlgorithm.from_id(alg_id), raw)
    if kind is KeyKind.SIG_PRIVATE:
        return SigningKey.from_bytes(raw)
    return VerifyKey.from_bytes(raw)


def _encode_binary(key: AnyKey) -> bytes:
    kind = _kind_of(key)
    raw = key.to_bytes()
    return KEYFILE_MAGIC + bytes([KEYFILE_VERSION, kind, _alg_id(key)]) + u32(len(raw)) + raw


def _decode_binary(data: bytes) -> tuple[KeyKind, AnyKey]:
    if len(data) < _FIXED_SIZE:
        raise DecodeError("key file truncated")
    if data[: len(KEYFILE_MAGIC)] != KEYFILE_MAGIC:
        raise DecodeError("not a zkflpq key file (bad magic)")
    at = len(KEYFILE_MAGIC)
    version, kind_id, alg_id = data[at : at + 3]
    if version != KEYFILE_VERSION:
        raise DecodeError(f"unsupported key file version {version}")
    try:
        kind = KeyKind(kind_id)
    except ValueError:
        raise DecodeError(f"unknown key kind {kind_id}") from None
    (length,) = struct.unpack(">I", data[at + 3 : _FIXED_SIZE])
    if length != _raw_size(kind, alg_id):
        raise DecodeError("key length does not match its kind and algorithm")
    if len(data) != _FIXED_SIZE + length:
        raise DecodeError("key file length does not match its length field")
    return kind, _build(kind, alg_id, data[_FIXED_SIZE:])


def _armor(kind: KeyKind, binary: bytes) -> bytes:
    body = base64.b64encode(binary).decode("ascii")
    lines = [body[i : i + _LINE_WIDTH] for i in range(0, len(body), _LINE_WIDTH)]
    label = kind.armor_label
    return (
        "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"
    ).encode("ascii")


def _dearmor(data: bytes) -> tuple[str, bytes]:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("armoured key is not ASCII") from None
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3:
        raise DecodeError("armoured key truncated")
    begin, *body, end = lines
    if not (begin.startswith("-----BEGIN ") and begin.endswith("-----")):
        raise DecodeError("armoured key lacks a BEGIN line")
    label = begin[len("-----BEGIN ") : -len("-----")]
    if end != f"-----END {label}-----":
        raise DecodeError("armoured key END line missing or does not match BEGIN")
    if not body or any(not line or len(line) > _LINE_WIDTH for line in body):
        raise DecodeError("armoured key body malformed (empty or over-long line)")
    joined = "".join(body)
    try:
        binary = base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("armoured key body is not valid base64") from None
    # Reject non-canonical base64 so each key has exactly one armoured form.
    if base64.b64encode(binary).decode("ascii") != joined:
        raise DecodeError("armoured key body is not canonical base64")
    return label, binary


def encode_key(key: AnyKey, *, armor: bool = True) -> bytes:
    """Serialise a key to the key-file format (armoured text by default)."""
    binary = _encode_binary(key)
    return _armor(_kind_of(key), binary) if armor else binary


def _decode_any(data: bytes) -> tuple[KeyKind, AnyKey]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("key data must be bytes")
    data = bytes(data)
    if data.startswith(b"-----BEGIN "):
        label, binary = _dearmor(data)
        kind, key = _decode_binary(binary)
        if label != kind.armor_label:
            raise DecodeError("armour label does not match the key kind")
        return kind, key
    return _decode_binary(data)


def _expect(key: AnyKey, expect: type[K] | None) -> AnyKey:
    if expect is not None and not isinstance(key, expect):
        raise DecodeError(f"expected {expect.__name__}, key file holds {type(key).__name__}")
    return key


@overload
def decode_key(data: bytes) -> AnyKey: ...
@overload
def decode_key(data: bytes, expect: type[K]) -> K: ...
def decode_key(data: bytes, expect: type[K] | None = None) -> AnyKey:
    """Parse key-file bytes (armoured or binary); :class:`DecodeError` if malformed.

    With ``expect``, a key of another kind is also a :class:`DecodeError`.
    """
    _, key = _decode_any(data)
    return _expect(key, expect)


def save_key(
    path: str | os.PathLike[str], key: AnyKey, *, armor: bool = True, overwrite: bool = False
) -> None:
    """Write ``key`` to ``path``; private keys get mode 0o600, public keys 0o644.

    Without ``overwrite`` an existing file is an error (``FileExistsError``);
    with it, the file is replaced atomically via a temporary file in the same
    directory, so a reader never sees a half-written or wider-permission key.
    """
    kind = _kind_of(key)
    data = encode_key(key, armor=armor)
    mode = 0o600 if kind.is_private else 0o644
    path = os.fspath(path)
    if overwrite:
        directory = os.path.dirname(os.path.abspath(path))
        # mkstemp creates the file 0o600, so the secret is never exposed.
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".zkflpq-key-")
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), mode)
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as fh:
        # O_CREAT's mode is filtered by the umask; set the exact mode explicitly.
        os.fchmod(fh.fileno(), mode)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@overload
def load_key(path: str | os.PathLike[str], *, check_permissions: bool = ...) -> AnyKey: ...
@overload
def load_key(
    path: str | os.PathLike[str], expect: type[K], *, check_permissions: bool = ...
) -> K: ...
def load_key(
    path: str | os.PathLike[str],
    expect: type[K] | None = None,
    *,
    check_permissions: bool = True,
) -> AnyKey:
    """Read a key file written by :func:`save_key`.

    Raises :class:`DecodeError` if malformed (or not of type ``expect``), and
    :class:`KeyFilePermissionError` for a private key file accessible to group
    or others (like OpenSSH) unless ``check_permissions`` is false.
    """
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read(_MAX_FILE_SIZE + 1)
    if len(data) > _MAX_FILE_SIZE:
        raise DecodeError("key file too large")
    kind, key = _decode_any(data)
    if check_permissions and kind.is_private and os.name == "posix":
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise KeyFilePermissionError(
                f"private key file {os.fspath(path)!r} is accessible by group/others; chmod 600 it"
            )
    return _expect(key, expect)
