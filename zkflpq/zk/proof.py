"""The norm proof object and its strict, versioned binary encoding (spec §4 step 7, §8).

Layout (all integers little-endian):
  magic "ZKNP" | version u8 | parameter-set id (16) | k u32 | B u64 |
  residues of t0, t_jl, t_a, t_g1..ρ, t_G1_1..ρ, h_1..ρ (per prime, ceil(log2 p) bits) |
  challenge | z_jm, z_je | z_u, z_e1, z_e2, z_m, z_r
Short vectors use two's-complement offset packing at the widths fixed by ProofBounds,
so the total length is a function of (parameter set, k, B) and checked exactly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from ..bfv.params import BfvParams
from ..ring import pack_uint, packed_size, unpack_uint
from .challenge import Challenge
from .errors import ProofDecodeError
from .params import ProofBounds, ZkParams, zk_params_for

__all__ = ["NormProof", "PROOF_MAGIC", "PROOF_VERSION", "encode_proof", "decode_proof_bytes",
           "proof_size"]

PROOF_MAGIC = b"ZKNP"
PROOF_VERSION = 1
_HEADER = struct.Struct("<4sB16sIQ")
_Z_BLOCKS = ("u", "e1", "e2", "m")


@dataclass(frozen=True, eq=False)
class NormProof:
    params: BfvParams
    k: int
    bound: int
    t0: np.ndarray = field(repr=False)  # (κ, L, N)
    t_msg: np.ndarray = field(repr=False)  # (jl_polys + 1 + ρ, L, N): jl, a, g_1..g_ρ
    t_G1: np.ndarray = field(repr=False)  # (ρ, L, N)
    h: np.ndarray = field(repr=False)  # (ρ, L, N)
    z_jm: np.ndarray = field(repr=False)  # (256,)
    z_je: np.ndarray = field(repr=False)  # (256,)
    c: Challenge = field(repr=False)
    z: dict[str, np.ndarray] = field(repr=False)  # u, e1, e2, m: (k, N); r: (ℓ, N)

    def to_bytes(self) -> bytes:
        return encode_proof(self, zk_params_for(self.params))


def _residue_widths(zk: ZkParams) -> list[int]:
    return [p.bit_length() for p in zk.bfv.primes]


def _poly_count(zk: ZkParams) -> int:
    return zk.kappa + (zk.jl_polys + 1 + zk.rho) + 2 * zk.rho


def _challenge_size(zk: ZkParams) -> int:
    w = zk.challenge_weight
    return 2 * w + (w + 7) // 8


def proof_size(zk: ZkParams, bounds: ProofBounds) -> int:
    n = zk.n
    size = _HEADER.size
    size += sum(packed_size(_poly_count(zk) * n, w) for w in _residue_widths(zk))
    size += _challenge_size(zk)
    size += packed_size(256, bounds.jl_width["m"]) + packed_size(256, bounds.jl_width["e"])
    for b in _Z_BLOCKS:
        size += packed_size(bounds.k * n, bounds.z_width[b])
    size += packed_size(zk.ell * n, bounds.z_width["r"])
    return size


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
    for b in (*_Z_BLOCKS, "r"):
        parts.append(_pack_signed(proof.z[b], bounds.z_width[b]))
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
    expected = proof_size(zk, bounds)
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
    if len(data) != expected:
        raise ProofDecodeError(f"proof has {len(data)} bytes, expected {expected}")
    n, L = zk.n, len(zk.bfv.primes)
    P = _poly_count(zk)
    off = _HEADER.size

    def take(size: int) -> bytes:
        nonlocal off
        chunk = data[off: off + size]
        off += size
        return chunk

    try:
        polys = np.empty((P, L, n), dtype=np.int64)
        for i, (w, p) in enumerate(zip(_residue_widths(zk), zk.bfv.primes, strict=True)):
            vals = unpack_uint(take(packed_size(P * n, w)), w, P * n).reshape(P, n)
            if vals.max(initial=0) >= p:
                raise ProofDecodeError("residue out of range")
            polys[:, i, :] = vals
        c = Challenge.decode(take(_challenge_size(zk)), n, zk.challenge_weight)
        wm, we = bounds.jl_width["m"], bounds.jl_width["e"]
        z_jm = _unpack_signed(take(packed_size(256, wm)), wm, 256)
        z_je = _unpack_signed(take(packed_size(256, we)), we, 256)
        z: dict[str, np.ndarray] = {}
        for b in _Z_BLOCKS:
            w = bounds.z_width[b]
            z[b] = _unpack_signed(take(packed_size(k * n, w)), w, k * n).reshape(k, n)
        w = bounds.z_width["r"]
        z["r"] = _unpack_signed(take(packed_size(zk.ell * n, w)), w, zk.ell * n).reshape(zk.ell, n)
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
