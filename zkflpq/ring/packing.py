"""Fixed-width little-endian bit packing of integer arrays (for strict codecs)."""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["pack_uint", "unpack_uint", "packed_size"]


def packed_size(count: int, width: int) -> int:
    return (count * width + 7) // 8


@nb.njit(cache=True)
def _pack(v, width, out):
    acc = np.uint64(0)
    nbits = 0
    k = 0
    for x in v:
        acc |= np.uint64(x) << np.uint64(nbits)
        nbits += width
        while nbits >= 8:
            out[k] = np.uint8(acc & np.uint64(0xFF))
            k += 1
            acc >>= np.uint64(8)
            nbits -= 8
    if nbits > 0:
        out[k] = np.uint8(acc & np.uint64(0xFF))


@nb.njit(cache=True)
def _unpack(data, width, count, out):
    acc = np.uint64(0)
    nbits = 0
    k = 0
    mask = (np.uint64(1) << np.uint64(width)) - np.uint64(1)
    for i in range(count):
        while nbits < width:
            acc |= np.uint64(data[k]) << np.uint64(nbits)
            k += 1
            nbits += 8
        out[i] = np.int64(acc & mask)
        acc >>= np.uint64(width)
        nbits -= width
    return acc  # leftover padding bits


def pack_uint(values: np.ndarray, width: int) -> bytes:
    """Pack non-negative integers < 2^width (width in 1..56) into bytes.

    After each flush fewer than 8 bits stay in the 64-bit accumulator, so widths
    up to 56 never overflow it.
    """
    v = np.ascontiguousarray(values, dtype=np.int64).ravel()
    if not 1 <= width <= 56:
        raise ValueError("width must be 1..56")
    if v.size and (v.min() < 0 or v.max() >> width):
        raise ValueError("value does not fit the packing width")
    out = np.zeros(packed_size(v.size, width), dtype=np.uint8)
    _pack(v, width, out)
    return out.tobytes()


def unpack_uint(data: bytes, width: int, count: int) -> np.ndarray:
    """Inverse of `pack_uint`; `data` must be exactly `packed_size(count, width)` bytes
    with zero padding bits (the encoding is canonical). Raises ValueError otherwise."""
    if not 1 <= width <= 56:
        raise ValueError("width must be 1..56")
    if len(data) != packed_size(count, width):
        raise ValueError("packed data has the wrong length")
    out = np.empty(count, dtype=np.int64)
    buf = np.frombuffer(data, dtype=np.uint8)
    leftover = _unpack(buf, width, count, out)
    if leftover:
        raise ValueError("non-zero padding bits")
    return out
