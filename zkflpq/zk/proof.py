"""The norm proof object and its strict, versioned binary encoding (proofs/protocol.md).

Layout (all integers little-endian):
  magic "ZKNP" | version u8 (3) | parameter-set id (16) | k u32 | B u64 |
  residues of t0, t_jl, t_a, t_g1..ρ, t_G1_1..ρ, h_1..ρ (subring polynomials of degree
  d, per prime, ceil(log2 p) bits) | challenge c | z_jm, z_je | z_m, z_e1, z_u, z_e2, z_r
Version 3 (one Σ-repetition in the subring, the multi-message witness) replaced
version 2 (four repetitions and a proof-of-work nonce), which is no longer read.
The JL responses use two's-complement offset packing at fixed widths; each block of
z is Rice-coded (zkflpq.ring.packing) after a u32 byte length, which brings it within
~0.1 bit per coefficient of the Gaussian's entropy. Decoding is strict: every length,
unary run, sign and padding bit is checked and the proof must end exactly.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from ..bfv.params import BfvParams
from ..ring.packing import pack_uint, packed_size, rice_decode, rice_encode, unpack_uint
from .challenge import Challenge
from .errors import ProofDecodeError
from .params import ProofBounds, ZkParams, zk_params_for

__all__ = ["BLOCKS", "NormProof", "PROOF_MAGIC", "PROOF_VERSION", "encode_proof",
           "decode_proof_bytes", "proof_size", "max_proof_size"]

PROOF_MAGIC = b"ZKNP"
PROOF_VERSION = 3
_HEADER = struct.Struct("<4sB16sIQ")
BLOCKS = ("m", "e1", "u", "e2", "r")  # response blocks, in encoding order
_LEN = struct.Struct("<I")


@dataclass(frozen=True, eq=False)
class NormProof:
    params: BfvParams
    k: int
    bound: int
    t0: np.ndarray = field(repr=False)  # (κ, L, d)
    t_msg: np.ndarray = field(repr=False)  # (jl_polys + 1 + ρ, L, d): jl, a, g_1..g_ρ
    t_G1: np.ndarray = field(repr=False)  # (ρ, L, d)
    h: np.ndarray = field(repr=False)  # (ρ, L, d)
    z_jm: np.ndarray = field(repr=False)  # (256,)
    z_je: np.ndarray = field(repr=False)  # (256,)
    c: Challenge = field(repr=False)  # in the subring R_d
    z: dict[str, np.ndarray] = field(repr=False)  # m, e1: (k, N); u, e2: (g, N); r: (ℓ, d)

    def to_bytes(self) -> bytes:
        return encode_proof(self, zk_params_for(self.params))


def _residue_widths(zk: ZkParams) -> list[int]:
    return [p.bit_length() for p in zk.bfv.primes]


def _poly_count(zk: ZkParams) -> int:
    return zk.kappa + (zk.jl_polys + 1 + zk.rho) + 2 * zk.rho


def _challenge_size(zk: ZkParams) -> int:
    w = zk.challenge_weight
    return 2 * w + (w + 7) // 8


def _fixed_size(zk: ZkParams, bounds: ProofBounds) -> int:
    size = _HEADER.size
    size += sum(packed_size(_poly_count(zk) * zk.d, w) for w in _residue_widths(zk))
    size += _challenge_size(zk)
    size += packed_size(256, bounds.jl_width["m"]) + packed_size(256, bounds.jl_width["e"])
    return size + _LEN.size * len(BLOCKS)


def proof_size(zk: ZkParams, bounds: ProofBounds) -> int:
    """Expected encoded size in bytes (the z blocks are variable-length)."""
    z_bits = sum(bounds.block_sizes[b] * bounds.z_expected_bits(b) for b in BLOCKS)
    return _fixed_size(zk, bounds) + math.ceil(z_bits / 8)


def max_proof_size(zk: ZkParams, bounds: ProofBounds) -> int:
    """Largest size a decodable proof can have (the decoder's size limit)."""
    worst = sum(math.ceil(bounds.block_sizes[b]
                          * (2 + bounds.z_low_bits[b] + bounds.z_max_high[b]) / 8)
                for b in BLOCKS)
    return _fixed_size(zk, bounds) + worst


def _pack_signed(v: np.ndarray, width: int) -> bytes:
    half = 1 << (width - 1)
    v = np.asarray(v, dtype=np.int64).ravel()
    if v.size and (v.min() < -half or v.max() >= half):
        raise ValueError("short vector exceeds its encoding width")
    return pack_uint(v + half, width)


def _unpack_signed(data: bytes, width: int, count: int) -> np.ndarray:
    return unpack_uint(data, width, count) - (1 << (width - 1))


def encode_proof(proof: NormProof, zk: ZkParams) -> bytes:
    bounds = zk.bounds(proof.k, proof.bound)
    polys = np.concatenate([proof.t0, proof.t_msg, proof.t_G1, proof.h])  # (P, L, N)
    parts = [_HEADER.pack(PROOF_MAGIC, PROOF_VERSION, zk.bfv.id_bytes, proof.k, proof.bound)]
    for i, w in enumerate(_residue_widths(zk)):
        parts.append(pack_uint(polys[:, i, :], w))
    parts.append(proof.c.encode())
    parts.append(_pack_signed(proof.z_jm, bounds.jl_width["m"]))
    parts.append(_pack_signed(proof.z_je, bounds.jl_width["e"]))
    for b in BLOCKS:
        coded = rice_encode(proof.z[b], bounds.z_low_bits[b], bounds.z_max_high[b])
        parts.append(_LEN.pack(len(coded)) + coded)
    return b"".join(parts)


def decode_proof_bytes(data: bytes, zk: ZkParams, k: int, bound: int) -> NormProof:
    """Strictly decode a proof for a statement with k chunks and bound B.

    Raises ProofDecodeError for anything but the canonical encoding.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProofDecodeError("proof must be bytes")
    data = bytes(data)
    try:
        bounds = zk.bounds(k, bound)
    except ValueError as exc:
        raise ProofDecodeError(str(exc)) from None
    if len(data) < _HEADER.size:
        raise ProofDecodeError("proof truncated (header)")
    magic, version, pid, pk_, pb = _HEADER.unpack_from(data)
    if magic != PROOF_MAGIC:
        raise ProofDecodeError("not a zkflpq norm proof (bad magic)")
    if version != PROOF_VERSION:
        raise ProofDecodeError(f"unsupported proof version {version}")
    if pid != zk.bfv.id_bytes:
        raise ProofDecodeError("proof is for another parameter set")
    if pk_ != k or pb != bound:
        raise ProofDecodeError("proof header does not match the statement (k or B)")
    if not _fixed_size(zk, bounds) <= len(data) <= max_proof_size(zk, bounds):
        raise ProofDecodeError(f"proof size {len(data)} outside the possible range")
    n, d, L = zk.n, zk.d, len(zk.bfv.primes)
    P = _poly_count(zk)
    off = _HEADER.size

    def take(size: int) -> bytes:
        nonlocal off
        if off + size > len(data):
            raise ProofDecodeError("proof truncated")
        chunk = data[off: off + size]
        off += size
        return chunk

    def take_block(name: str, count: int) -> np.ndarray:
        (length,) = _LEN.unpack(take(_LEN.size))
        coded = take(length)
        return rice_decode(coded, bounds.z_low_bits[name], bounds.z_max_high[name], count)

    try:
        polys = np.empty((P, L, d), dtype=np.int64)
        for i, (w, p) in enumerate(zip(_residue_widths(zk), zk.bfv.primes, strict=True)):
            vals = unpack_uint(take(packed_size(P * d, w)), w, P * d).reshape(P, d)
            if vals.max(initial=0) >= p:
                raise ProofDecodeError("residue out of range")
            polys[:, i, :] = vals
        c = Challenge.decode(take(_challenge_size(zk)), d, zk.challenge_weight)
        wm, we = bounds.jl_width["m"], bounds.jl_width["e"]
        z_jm = _unpack_signed(take(packed_size(256, wm)), wm, 256)
        z_je = _unpack_signed(take(packed_size(256, we)), we, 256)
        g = bounds.groups
        rows = {"m": k, "e1": k, "u": g, "e2": g}
        z: dict[str, np.ndarray] = {}
        for b in BLOCKS[:4]:
            z[b] = take_block(b, rows[b] * n).reshape(rows[b], n)
        z["r"] = take_block("r", zk.ell * d).reshape(zk.ell, d)
        if off != len(data):
            raise ProofDecodeError("trailing bytes after the proof")
    except ProofDecodeError:
        raise
    except ValueError as exc:
        raise ProofDecodeError(f"malformed proof field: {exc}") from None
    kappa, rho = zk.kappa, zk.rho
    sent = zk.jl_polys + 1 + rho
    t0 = polys[:kappa]
    t_msg = polys[kappa: kappa + sent]
    t_G1 = polys[kappa + sent: kappa + sent + rho]
    h = polys[kappa + sent + rho:]
    return NormProof(zk.bfv, k, bound, t0, t_msg, t_G1, h, z_jm, z_je, c, z)
