"""Strict, versioned binary encodings of BFV public keys, secret keys and ciphertexts.

Layout (all integers little-endian):

    offset  size  field
    0       4     magic b"ZKFB"
    4       1     format version (2: the multi-message form of proof v3)
    5       1     kind: 1 = public key, 2 = secret key, 3 = ciphertexts
    6       16    parameter-set id (BfvParams.id_bytes)
    22      4     chunk count k, u32 (ciphertexts only)
    ...           body

Bodies:
- public key: for each prime p_j (in order), the (1 + L')·N residues of
  (a, b_1, ..., b_L') for that prime, bit-packed with `pack_uint` at width
  w_j = ceil(log2 p_j).
- secret key: the L'·N ternary coefficients of s_1..s_L' ∈ {−1, 0, 1}, stored as
  s + 1 at 2 bits each (the code 3 is invalid).
- ciphertexts (k chunks, g = ⌈k/L'⌉ groups): for each prime p_j, the g·N residues
  of c1 (group, coefficient) followed by the k·N residues of c0 (chunk,
  coefficient), packed at w_j.

Every encoding is canonical: each value has exactly one encoding, so decoders
reject truncated or padded input, an unknown magic/version/kind, a parameter id
other than the expected one, residues ≥ p_j, secret codes outside {0, 1, 2},
non-zero padding bits and chunk counts above a caller-given maximum — all with
`BfvDecodeError`, and never with any other exception.
"""

from __future__ import annotations

import struct

import numpy as np

from ..ring.packing import pack_uint, packed_size, unpack_uint
from .params import PRESETS, BfvParams
from .scheme import Ciphertexts, PublicKey, SecretKey

__all__ = [
    "FORMAT_VERSION",
    "KIND_CIPHERTEXTS",
    "KIND_PUBLIC_KEY",
    "KIND_SECRET_KEY",
    "MAGIC",
    "BfvDecodeError",
    "ciphertext_size",
    "decode_ciphertexts",
    "decode_public_key",
    "decode_secret_key",
    "encode_ciphertexts",
    "encode_public_key",
    "encode_secret_key",
    "public_key_size",
    "secret_key_size",
]

MAGIC = b"ZKFB"
FORMAT_VERSION = 2
KIND_PUBLIC_KEY = 1
KIND_SECRET_KEY = 2
KIND_CIPHERTEXTS = 3
_KIND_NAMES = {KIND_PUBLIC_KEY: "public key", KIND_SECRET_KEY: "secret key",
               KIND_CIPHERTEXTS: "ciphertexts"}
_HEADER = struct.Struct("<4sBB16s")  # magic, version, kind, parameter id: 22 bytes
_COUNT = struct.Struct("<I")
_MAX_U32 = (1 << 32) - 1


class BfvDecodeError(ValueError):
    """Raised for any malformed, non-canonical or unexpected encoded BFV object."""


def _widths(params: BfvParams) -> list[int]:
    # p_j is an odd prime, so ceil(log2 p_j) = bit_length(p_j).
    return [p.bit_length() for p in params.primes]


def _body_size(params: BfvParams, values_per_prime: int) -> int:
    return sum(packed_size(values_per_prime, w) for w in _widths(params))


def public_key_size(params: BfvParams) -> int:
    return _HEADER.size + _body_size(params, (1 + params.components) * params.n)


def secret_key_size(params: BfvParams) -> int:
    return _HEADER.size + packed_size(params.components * params.n, 2)


def ciphertext_size(params: BfvParams, k: int) -> int:
    """Encoded size in bytes of k ciphertext chunks (⌈k/L'⌉ groups)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    return _HEADER.size + _COUNT.size + _body_size(params, (k + params.groups(k)) * params.n)


def _header(params: BfvParams, kind: int) -> bytes:
    return _HEADER.pack(MAGIC, FORMAT_VERSION, kind, params.id_bytes)


def _pack_residues(params: BfvParams, arr: np.ndarray) -> bytes:
    """arr (..., L, N) residues → per-prime packed streams, prime by prime."""
    arr = np.asarray(arr, dtype=np.int64)
    parts = []
    for j, (p, w) in enumerate(zip(params.primes, _widths(params), strict=True)):
        row = np.ascontiguousarray(arr[..., j, :])
        if row.size and (row.min() < 0 or row.max() >= p):
            raise ValueError(f"residue out of range for prime {p}")
        parts.append(pack_uint(row, w))
    return b"".join(parts)


def _unpack_residues(params: BfvParams, body: memoryview, lead: tuple[int, ...]) -> np.ndarray:
    """Inverse of `_pack_residues` for an array of shape lead + (L, N); checks ranges."""
    n, L = params.n, len(params.primes)
    count = int(np.prod(lead, dtype=np.int64)) * n
    out = np.empty(lead + (L, n), dtype=np.int64)
    off = 0
    for j, (p, w) in enumerate(zip(params.primes, _widths(params), strict=True)):
        size = packed_size(count, w)
        try:
            vals = unpack_uint(bytes(body[off:off + size]), w, count)
        except ValueError as exc:
            raise BfvDecodeError(f"bad residue stream for prime {p}: {exc}") from None
        if count and int(vals.max()) >= p:
            raise BfvDecodeError(f"residue out of range (≥ {p})")
        out[..., j, :] = vals.reshape(lead + (n,))
        off += size
    return out


def _resolve_params(param_id: bytes, params: BfvParams | None) -> BfvParams:
    if params is None:
        for candidate in PRESETS.values():
            if candidate.id_bytes == param_id:
                return candidate
        raise BfvDecodeError(f"unknown parameter-set id {param_id.hex()}")
    if param_id != params.id_bytes:
        raise BfvDecodeError(f"parameter-set id {param_id.hex()} does not match the expected "
                             f"set {params.name!r} ({params.id_bytes.hex()})")
    return params


def _parse_header(data: object, kind: int, params: BfvParams | None
                  ) -> tuple[memoryview, BfvParams]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BfvDecodeError(f"expected bytes, got {type(data).__name__}")
    view = memoryview(bytes(data)) if isinstance(data, memoryview) else memoryview(data)
    if len(view) < _HEADER.size:
        raise BfvDecodeError(f"truncated: {len(view)} bytes is shorter than the header")
    magic, version, got_kind, param_id = _HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise BfvDecodeError(f"bad magic {bytes(magic)!r} (expected {MAGIC!r})")
    if version != FORMAT_VERSION:
        raise BfvDecodeError(f"unsupported format version {version} (expected {FORMAT_VERSION})")
    if got_kind != kind:
        got = _KIND_NAMES.get(got_kind, f"unknown kind {got_kind}")
        raise BfvDecodeError(f"wrong object kind: got {got}, expected {_KIND_NAMES[kind]}")
    return view[_HEADER.size:], _resolve_params(bytes(param_id), params)


def _check_length(body: memoryview, expected: int, what: str) -> None:
    if len(body) < expected:
        raise BfvDecodeError(f"truncated {what}: body has {len(body)} bytes, expected {expected}")
    if len(body) > expected:
        raise BfvDecodeError(f"{len(body) - expected} trailing bytes after the {what}")


# -- public key ---------------------------------------------------------------------
def encode_public_key(pk: PublicKey) -> bytes:
    params = pk.params
    return _header(params, KIND_PUBLIC_KEY) + _pack_residues(
        params, np.concatenate([pk.a[None], pk.b]))


def decode_public_key(data: bytes, params: BfvParams | None = None) -> PublicKey:
    """Decode a public key; `params` is the expected set (None: look the id up in PRESETS)."""
    body, params = _parse_header(data, KIND_PUBLIC_KEY, params)
    comps = params.components
    _check_length(body, _body_size(params, (1 + comps) * params.n), "public key")
    arr = _unpack_residues(params, body, (1 + comps,))
    return PublicKey(params, np.ascontiguousarray(arr[0]), np.ascontiguousarray(arr[1:]))


# -- secret key ---------------------------------------------------------------------
def encode_secret_key(sk: SecretKey) -> bytes:
    s = np.asarray(sk.s, dtype=np.int64)
    if s.shape != (sk.params.components, sk.params.n) or s.min() < -1 or s.max() > 1:
        raise ValueError("secret key must be L' ternary vectors of length N")
    return _header(sk.params, KIND_SECRET_KEY) + pack_uint(s.ravel() + 1, 2)


def decode_secret_key(data: bytes, params: BfvParams | None = None) -> SecretKey:
    body, params = _parse_header(data, KIND_SECRET_KEY, params)
    count = params.components * params.n
    _check_length(body, packed_size(count, 2), "secret key")
    try:
        codes = unpack_uint(bytes(body), 2, count)
    except ValueError as exc:
        raise BfvDecodeError(f"bad secret-key stream: {exc}") from None
    if codes.max() > 2:
        raise BfvDecodeError("secret-key coefficient outside {-1, 0, 1}")
    return SecretKey(params, (codes - 1).reshape(params.components, params.n))


# -- ciphertexts --------------------------------------------------------------------
def encode_ciphertexts(ct: Ciphertexts) -> bytes:
    k = len(ct)
    if not 1 <= k <= _MAX_U32:
        raise ValueError("chunk count must be in [1, 2^32 − 1]")
    return (_header(ct.params, KIND_CIPHERTEXTS) + _COUNT.pack(k)
            + _pack_residues(ct.params, np.concatenate([ct.c1, ct.c0])))


def decode_ciphertexts(data: bytes, params: BfvParams | None = None,
                       max_chunks: int | None = None) -> Ciphertexts:
    """Decode ciphertexts; rejects chunk counts of 0 or above `max_chunks`.

    The length is checked against the announced count before any allocation, so a
    forged count cannot make the decoder allocate more than the input's size.
    """
    body, params = _parse_header(data, KIND_CIPHERTEXTS, params)
    if len(body) < _COUNT.size:
        raise BfvDecodeError("truncated: missing chunk count")
    (k,) = _COUNT.unpack_from(body, 0)
    body = body[_COUNT.size:]
    if k == 0:
        raise BfvDecodeError("chunk count is zero")
    if max_chunks is not None and k > max_chunks:
        raise BfvDecodeError(f"chunk count {k} exceeds the maximum {max_chunks}")
    g = params.groups(k)
    _check_length(body, _body_size(params, (k + g) * params.n), f"{k} ciphertext chunk(s)")
    arr = _unpack_residues(params, body, (g + k,))
    return Ciphertexts(params, np.ascontiguousarray(arr[g:]), np.ascontiguousarray(arr[:g]))
