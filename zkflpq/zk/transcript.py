"""Fiat–Shamir transcript: SHAKE-256 over labelled, length-prefixed absorbs (spec §4)."""

from __future__ import annotations

import hashlib
import struct

import numpy as np

__all__ = ["Transcript"]


def _frame(label: bytes, data: bytes) -> bytes:
    return struct.pack("<I", len(label)) + label + struct.pack("<Q", len(data)) + data


class Transcript:
    """Append-only SHAKE-256 state; squeezes are domain-separated and absorbed back."""

    def __init__(self, protocol: bytes) -> None:
        self._h = hashlib.shake_256()
        self._h.update(_frame(b"protocol", protocol))

    def copy(self) -> Transcript:
        t = Transcript.__new__(Transcript)
        t._h = self._h.copy()
        return t

    def absorb(self, label: bytes, data: bytes) -> None:
        self._h.update(_frame(label, data))

    def _absorb_shaped(self, label: bytes, a: np.ndarray) -> None:
        # The same bytes as absorb(label, shape ‖ a.tobytes()), streamed without copying
        # the (multi-megabyte) array.
        shape = struct.pack(f"<{a.ndim}Q", *a.shape)
        self._h.update(struct.pack("<I", len(label)) + label
                       + struct.pack("<Q", len(shape) + a.nbytes) + shape)
        self._h.update(a.reshape(-1).data)

    def absorb_array(self, label: bytes, array: np.ndarray) -> None:
        """Absorb an integer array canonically (little-endian int64, shape prefixed)."""
        self._absorb_shaped(label, np.ascontiguousarray(array, dtype="<i8"))

    def absorb_residues(self, label: bytes, array: np.ndarray) -> None:
        """Absorb an array of residues mod primes < 2^31 as little-endian uint32
        (half the bytes of int64; values outside [0, 2^31) are refused)."""
        a = np.asarray(array)
        if a.size and (a.min() < 0 or a.max() >= 1 << 31):
            raise ValueError("residues must lie in [0, 2^31)")
        self._absorb_shaped(label, np.ascontiguousarray(a, dtype="<u4"))

    def squeeze(self, label: bytes, n: int) -> bytes:
        """n challenge bytes for `label`; the squeeze itself is absorbed so later
        challenges depend on it."""
        h = self._h.copy()
        h.update(_frame(b"squeeze", label))
        out = h.digest(n)
        self._h.update(_frame(b"squeezed", label + struct.pack("<Q", n)))
        return out
