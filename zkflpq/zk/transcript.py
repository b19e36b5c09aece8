"""Fiat–Shamir transcript: SHAKE-256 over labelled, length-prefixed absorbs (spec §4)."""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterator

import numpy as np

__all__ = ["Transcript"]


def _residue_parts(arrays: list[np.ndarray]) -> Iterator[np.ndarray]:
    """uint32 views of the arrays, converted one at a time. Every range is checked before
    the first is yielded, so a refused input leaves the transcript untouched."""
    for a in arrays:
        if a.size and (a.min() < 0 or a.max() >= 1 << 31):
            raise ValueError("residues must lie in [0, 2^31)")
    return (np.ascontiguousarray(a, dtype="<u4") for a in arrays)


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

    def _absorb_shaped(self, label: bytes, shape: tuple[int, ...], itemsize: int,
                       parts: Iterator[np.ndarray]) -> None:
        # The same bytes as absorb(label, shape ‖ values), with the values streamed part by
        # part instead of being copied into one (multi-megabyte) bytes object.
        head = struct.pack(f"<{len(shape)}Q", *shape)
        size = len(head) + itemsize * math.prod(shape)
        self._h.update(struct.pack("<I", len(label)) + label + struct.pack("<Q", size) + head)
        for a in parts:
            self._h.update(a.reshape(-1).data)

    def absorb_array(self, label: bytes, array: np.ndarray) -> None:
        """Absorb an integer array canonically (little-endian int64, shape prefixed)."""
        a = np.ascontiguousarray(array, dtype="<i8")
        self._absorb_shaped(label, a.shape, 8, iter([a]))

    def absorb_residues(self, label: bytes, array: np.ndarray) -> None:
        """Absorb an array of residues mod primes < 2^31 as little-endian uint32
        (half the bytes of int64; values outside [0, 2^31) are refused)."""
        a = np.asarray(array)
        self._absorb_shaped(label, a.shape, 4, _residue_parts([a]))

    def absorb_residues_stacked(self, label: bytes, arrays: list[np.ndarray]) -> None:
        """Exactly absorb_residues(label, np.stack(arrays)), without building the stack
        (the R repetitions' W_ct are 50 MB each at d = 2^20)."""
        if not arrays or any(a.shape != arrays[0].shape for a in arrays):
            raise ValueError("stacked arrays must be non-empty and of one shape")
        self._absorb_shaped(label, (len(arrays),) + arrays[0].shape, 4,
                            _residue_parts(arrays))

    def squeeze(self, label: bytes, n: int) -> bytes:
        """n challenge bytes for `label`; the squeeze itself is absorbed so later
        challenges depend on it."""
        h = self._h.copy()
        h.update(_frame(b"squeeze", label))
        out = h.digest(n)
        self._h.update(_frame(b"squeezed", label + struct.pack("<Q", n)))
        return out
