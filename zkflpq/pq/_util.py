"""Small internal helpers shared by the modules of :mod:`zkflpq.pq`."""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes

__all__ = ["as_bytes", "lp", "sha3_256", "shake256", "u32"]

_U32_MAX = 0xFFFFFFFF


def as_bytes(value: object, what: str) -> bytes:
    """Return ``value`` as immutable ``bytes`` or raise ``TypeError``."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes-like, not {type(value).__name__}")


def u32(n: int) -> bytes:
    """Big-endian unsigned 32-bit integer."""
    if not 0 <= n <= _U32_MAX:
        raise ValueError("value does not fit in 32 bits")
    return struct.pack(">I", n)


def lp(data: bytes) -> bytes:
    """Length-prefix ``data`` with a big-endian u32 so concatenations stay unambiguous."""
    return u32(len(data)) + data


def sha3_256(data: bytes) -> bytes:
    """SHA3-256 (FIPS 202 §6.1)."""
    h = hashes.Hash(hashes.SHA3_256())
    h.update(data)
    return h.finalize()


def shake256(data: bytes, out_len: int) -> bytes:
    """SHAKE256 with ``out_len`` output bytes (FIPS 202 §6.2)."""
    h = hashes.Hash(hashes.SHAKE256(digest_size=out_len))
    h.update(data)
    return h.finalize()
