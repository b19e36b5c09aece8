"""Fixed-width little-endian bit packing of integer arrays (for strict codecs)."""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

__all__ = ["pack_uint", "packed_size", "rice_decode", "rice_encode", "rice_low_bits", "unpack_uint"]


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


# -- Golomb–Rice style coding of Gaussian-distributed signed integers -------------------
# Per value: sign bit (0 for z ≥ 0), the `low` least significant bits of |z|, then
# |z| >> low in unary (that many 0 bits, then a 1). With low ≈ log2 σ − 0.5 this costs
# about log2 σ + 2.1 bits, within ~0.1 bit of the entropy of a Gaussian of width σ
# (fixed-width packing needs about log2 σ + 4.5). Canonical: "−0" and unary runs longer
# than `max_high` are rejected, the stream must end exactly with zero padding bits.

@nb.njit(cache=True)
def _rice_encode(v, low, out):
    acc = np.uint64(0)
    nbits = 0
    k = 0
    mask = (np.uint64(1) << np.uint64(low)) - np.uint64(1)
    for x in v:
        a = np.uint64(-x) if x < 0 else np.uint64(x)
        sign = np.uint64(1) if x < 0 else np.uint64(0)
        acc |= (sign | ((a & mask) << np.uint64(1))) << np.uint64(nbits)
        nbits += 1 + low
        while nbits >= 8:
            out[k] = np.uint8(acc & np.uint64(0xFF))
            k += 1
            acc >>= np.uint64(8)
            nbits -= 8
        high = a >> np.uint64(low)
        for _ in range(high):  # unary zeros
            nbits += 1
            if nbits >= 8:
                out[k] = np.uint8(acc & np.uint64(0xFF))
                k += 1
                acc >>= np.uint64(8)
                nbits -= 8
        acc |= np.uint64(1) << np.uint64(nbits)
        nbits += 1
        while nbits >= 8:
            out[k] = np.uint8(acc & np.uint64(0xFF))
            k += 1
            acc >>= np.uint64(8)
            nbits -= 8
    if nbits > 0:
        out[k] = np.uint8(acc & np.uint64(0xFF))
        k += 1
    return k


@nb.njit(cache=True)
def _word_at(data, pos):
    # 57 or more bits from bit position `pos` (LSB first). `data` carries 8 zero bytes
    # past the stream, so the read never leaves the array; LLVM merges the byte loads.
    byte = pos >> 3
    w = np.uint64(0)
    for t in range(8):
        w |= np.uint64(data[byte + t]) << np.uint64(8 * t)
    return w >> np.uint64(pos & 7)


@nb.njit(cache=True)
def _rice_decode(data, total, low, max_high, out):
    # `total` stream bits in `data` (plus 8 zero bytes). Returns 0 or a negative error code.
    pos = 0  # bit position
    mask = (np.uint64(1) << np.uint64(low)) - np.uint64(1)
    for i in range(out.shape[0]):
        if pos + 1 + low > total:
            return -1
        w = _word_at(data, pos)
        sign = w & np.uint64(1)
        a = np.int64((w >> np.uint64(1)) & mask)
        w >>= np.uint64(1 + low)
        avail = 56 - low  # bits of w still read from the stream (low ≤ 48)
        pos += 1 + low
        # Unary part (a few bits for Gaussian values, low ≈ log2 σ − 0.5): the zeros
        # before the terminating 1, counted a window at a time. Bits past the stream read
        # as 0, so a 1 found in a window is inside the stream.
        high = np.int64(0)
        while True:
            if avail == 0:
                w = _word_at(data, pos)
                avail = 57
            run = min(np.int64(trailing_zeros(w)) if w else avail, avail)
            if run < avail:
                high += run
                pos += run + 1
                w >>= np.uint64(run + 1)
                avail -= run + 1
                if high > max_high:
                    return -2
                break
            if high + min(run, total - pos) > max_high:
                return -2  # the (max_high + 1)-th zero comes before the end of the stream
            if pos + run >= total:
                return -1
            high += run
            pos += run
            avail = 0
        a |= high << low
        if sign:
            if a == 0:
                return -3  # "−0" is not canonical
            out[i] = -a
        else:
            out[i] = a
    if (total - pos) >= 8:
        return -4  # trailing bytes
    if pos < total and _word_at(data, pos) != 0:
        return -5  # non-zero padding (the bytes after the stream are zero)
    return 0


RICE_MAX_LOW = 48  # low bits + a small unary part stay below 2^62; 1 + low ≤ 57 (word reads)


def rice_low_bits(sigma: float) -> int:
    """Low-bit count for values of Gaussian width σ (≥ 0)."""
    return max(0, int(np.floor(np.log2(max(sigma, 1.0)) - 0.5)))


def rice_encode(values: np.ndarray, low: int, max_high: int) -> bytes:
    """Encode signed integers; raises ValueError if some |v| >> low exceeds max_high."""
    v = np.ascontiguousarray(values, dtype=np.int64).ravel()
    if not 0 <= low <= RICE_MAX_LOW:
        raise ValueError(f"low must be 0..{RICE_MAX_LOW}")
    if v.size and (np.abs(v).max() >> low) > max_high:
        raise ValueError("value too large for this code")
    bound = v.size * (2 + low) + int((np.abs(v) >> low).sum()) + 8
    out = np.zeros(bound // 8 + 1, dtype=np.uint8)
    k = _rice_encode(v, low, out)
    return out[:k].tobytes()


def rice_decode(data: bytes, low: int, max_high: int, count: int) -> np.ndarray:
    """Strict inverse of `rice_encode`; ValueError on any non-canonical input."""
    if not 0 <= low <= RICE_MAX_LOW:
        raise ValueError(f"low must be 0..{RICE_MAX_LOW}")
    out = np.empty(count, dtype=np.int64)
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    code = _rice_decode(padded, 8 * len(data), low, max_high, out)
    if code:
        raise ValueError({-1: "truncated", -2: "value too large", -3: "negative zero",
                          -4: "trailing bytes", -5: "non-zero padding"}[code])
    return out
