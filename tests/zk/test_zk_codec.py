"""Strict proof codec (spec §5.1, §8): round trip, every header/length error, canonical
challenge bytes, and `verify` on arbitrary bytes never raising."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zk_support import FIELDS, Z_BLOCKS

from zkflpq.ring import packed_size
from zkflpq.zk import (
    NormStatement,
    ProofDecodeError,
    decode_proof,
    proof_size,
    verify,
    zk_params_for,
)
from zkflpq.zk.challenge import Challenge
from zkflpq.zk.proof import (
    _HEADER,
    BLOCKS,
    PROOF_MAGIC,
    PROOF_VERSION,
    _challenge_size,
    _poly_count,
    max_proof_size,
)

REASONS = {"malformed", "statement_mismatch", "challenge_invalid", "relation_nonzero",
           "jl_too_large", "response_too_large", "proof_invalid"}


def sections(case) -> dict[str, tuple[int, int]]:
    """Byte ranges [start, end) of every section of the v3 encoding: the subring
    polynomials (degree d_p) per prime, ONE challenge, the JL responses, and the
    length-prefixed Rice-coded z blocks."""
    zk = zk_params_for(case.params)
    bnds = zk.bounds(case.statement.k, case.statement.bound)
    P = _poly_count(zk)
    out, off = {}, 0

    def add(name, size):
        nonlocal off
        out[name] = (off, off + size)
        off += size

    add("header", _HEADER.size)
    for i, p in enumerate(zk.bfv.primes):
        add(f"residues{i}", packed_size(P * zk.d, p.bit_length()))
    add("c", _challenge_size(zk))
    add("z_jm", packed_size(256, bnds.jl_width["m"]))
    add("z_je", packed_size(256, bnds.jl_width["e"]))
    for b in Z_BLOCKS:
        add(f"len_{b}", 4)
        add(f"z_{b}", struct.unpack_from("<I", case.data, off - 4)[0])
    assert off == len(case.data)
    return out


def assert_same_proof(a, b):
    assert a.params == b.params and a.k == b.k and a.bound == b.bound
    for f in FIELDS:
        if f == "z":
            assert set(a.z) == set(b.z) == set(Z_BLOCKS)
            for blk in Z_BLOCKS:
                assert np.array_equal(a.z[blk], b.z[blk]) and a.z[blk].shape == b.z[blk].shape
        elif f == "c":
            assert getattr(a, f) == getattr(b, f), f
        else:
            x, y = getattr(a, f), getattr(b, f)
            assert x.shape == y.shape and np.array_equal(x, y), f


@pytest.mark.parametrize("name", ["n64", "n256", "default"])
def test_round_trip_all_fields(cases, name):
    case = cases(name)
    decoded = decode_proof(case.data, case.statement)
    assert_same_proof(decoded, case.proof)
    assert decoded.to_bytes() == case.data
    zk = zk_params_for(case.params)
    bnds = zk.bounds(case.proof.k, case.proof.bound)
    # variable length: within the decoder's limits, near the estimate
    assert len(case.data) <= max_proof_size(zk, bnds)
    assert abs(len(case.data) - proof_size(zk, bnds)) < 0.02 * len(case.data)
    assert decode_proof(bytearray(case.data), case.statement).to_bytes() == case.data
    assert decode_proof(memoryview(case.data), case.statement).to_bytes() == case.data
    assert verify(case.statement, case.data)


def _header(case, **over) -> bytes:
    magic, version, pid, k, b = _HEADER.unpack_from(case.data)
    vals = dict(magic=magic, version=version, pid=pid, k=k, b=b) | over
    return _HEADER.pack(vals["magic"], vals["version"], vals["pid"], vals["k"], vals["b"]) \
        + case.data[_HEADER.size:]


def _bad_encodings(case):
    d = case.data
    yield "empty", b""
    yield "header-only-truncated", d[: _HEADER.size - 1]
    yield "truncated-1", d[:-1]
    yield "truncated-half", d[: len(d) // 2]
    yield "padded-zero", d + b"\x00"
    yield "padded-many", d + bytes(1000)
    yield "wrong-magic", _header(case, magic=b"ZKNQ")
    yield "magic-case", _header(case, magic=PROOF_MAGIC.lower())
    yield "wrong-version-0", _header(case, version=0)
    yield "old-version-2", _header(case, version=2)  # v2 (four repetitions, nonce)
    yield "next-version", _header(case, version=PROOF_VERSION + 1)
    yield "wrong-param-id", _header(case, pid=bytes(16))
    yield "other-param-set", _header(case, pid=zk_params_for(
        __import__("zkflpq.bfv", fromlist=["INSECURE_N256"]).INSECURE_N256).bfv.id_bytes)
    yield "header-k", _header(case, k=case.statement.k + 1)
    yield "header-k0", _header(case, k=0)
    yield "header-B", _header(case, b=case.statement.bound + 1)
    yield "header-B-1", _header(case, b=case.statement.bound - 1)
    yield "not-bytes", case.data.hex()


@pytest.mark.parametrize("which", [name for name, _ in _bad_encodings(
    type("C", (), {"data": bytes(100), "statement": type("S", (), {"k": 1, "bound": 2})()})())])
def test_decode_rejects_bad_encodings(n64, which):
    data = dict(_bad_encodings(n64))[which]
    with pytest.raises(ProofDecodeError):
        decode_proof(data, n64.statement)
    assert verify(n64.statement, data) == verify(n64.statement, data)  # no exception
    assert verify(n64.statement, data).reason == "malformed"


def test_decode_rejects_statement_with_other_k_or_bound(n64):
    st = n64.statement
    other_b = NormStatement(st.params, st.public_key, st.ciphertexts, st.bound + 1, st.context)
    ct = st.ciphertexts
    fewer = type(ct)(st.params, ct.c0[:-1], ct.c1[: st.params.groups(len(ct) - 1)])
    other_k = NormStatement(st.params, st.public_key, fewer, st.bound, st.context)
    for s in (other_b, other_k):
        with pytest.raises(ProofDecodeError):
            decode_proof(n64.data, s)
        assert verify(s, n64.data).reason == "malformed"


def test_decode_rejects_residue_out_of_range(n64):
    """A residue ≥ p (here: p itself) is non-canonical even if it is ≡ to a valid one."""
    zk = zk_params_for(n64.params)
    start, _ = sections(n64)["residues0"]
    width = zk.bfv.primes[0].bit_length()
    # The first residue of t0 lives in the first `width` bits of the section.
    raw = bytearray(n64.data)
    value = int.from_bytes(raw[start: start + 8], "little")
    mask = (1 << width) - 1
    raw[start: start + 8] = ((value & ~mask) | zk.bfv.primes[0]).to_bytes(8, "little")
    with pytest.raises(ProofDecodeError):
        decode_proof(bytes(raw), n64.statement)
    assert verify(n64.statement, bytes(raw)).reason == "malformed"


def test_decode_rejects_nonzero_padding_bits(n64):
    """A section whose bit length is not a multiple of 8 ends in padding that must be 0
    (Rice-coded z blocks; the fixed-width sections all have d_p·width bits, a multiple of
    8, and the challenge's sign padding is tested with the challenge)."""
    secs = sections(n64)
    bnds = zk_params_for(n64.params).bounds(n64.statement.k, n64.statement.bound)
    tested = 0
    for b in Z_BLOCKS:
        start, end = secs[f"z_{b}"]
        low = bnds.z_low_bits[b]
        used = int(sum(2 + low + (abs(int(x)) >> low) for x in n64.proof.z[b].ravel()))
        pad = 8 * (end - start) - used
        assert 0 <= pad < 8
        if pad == 0:
            continue
        raw = bytearray(n64.data)
        raw[end - 1] |= 0x80  # the top bit of the last byte is padding
        with pytest.raises(ProofDecodeError):
            decode_proof(bytes(raw), n64.statement)
        assert verify(n64.statement, bytes(raw)).reason == "malformed"
        tested += 1
    assert tested >= 1


def test_rice_length_prefix_must_be_exact(n64):
    start, end = sections(n64)["len_m"]
    length = struct.unpack_from("<I", n64.data, start)[0]
    zstart, zend = sections(n64)["z_m"]
    for data in (
        n64.data[:start] + struct.pack("<I", length + 1) + n64.data[zstart:zend] + b"\x00"
        + n64.data[zend:],  # an extra zero byte inside the block
        n64.data[:start] + struct.pack("<I", length - 1) + n64.data[zstart:],
        n64.data[:start] + struct.pack("<I", length + 1) + n64.data[zstart:],
        n64.data[:start] + struct.pack("<I", 0xFFFFFFFF) + n64.data[zstart:],
    ):
        with pytest.raises(ProofDecodeError):
            decode_proof(data, n64.statement)
        assert verify(n64.statement, data).reason == "malformed"


def _challenge_bytes(case, pairs, signs_bits: int | None = None) -> bytes:
    zk = zk_params_for(case.params)
    w = zk.challenge_weight
    start, _ = sections(case)["c"]
    end = start + 2 * w + (w + 7) // 8
    assert end == sections(case)["c"][1]  # the one and only challenge
    idx = b"".join(int(i).to_bytes(2, "little") for i in pairs)
    tail = case.data[start + 2 * w: end] if signs_bits is None else \
        signs_bits.to_bytes((w + 7) // 8, "little")
    return case.data[:start] + idx + tail + case.data[end:]


@pytest.mark.parametrize("name", ["n64", "n256"])
def test_noncanonical_challenge_bytes_are_malformed(cases, name):
    case = cases(name)
    zk = zk_params_for(case.params)
    n, w = zk.d, zk.challenge_weight  # c lives in the subring R_d
    pairs = list(case.proof.c.pairs)
    bad = {
        "unsorted": [pairs[1], pairs[0], *pairs[2:]],
        "duplicate": [pairs[0], pairs[0], *pairs[2:]],
        "index-0": [0, *pairs[1:]],
        "index-N/2": [*pairs[:-1], n // 2],
        "index-over": [*pairs[:-1], n - pairs[0]],
        "index-huge": [*pairs[:-1], 0xFFFF],
    }
    for label, p in bad.items():
        data = _challenge_bytes(case, p)
        with pytest.raises(ProofDecodeError):
            decode_proof(data, case.statement)
        assert verify(case.statement, data).reason == "malformed", label
    if w % 8:
        signs = sum(1 << i for i, s in enumerate(case.proof.c.signs) if s < 0)
        data = _challenge_bytes(case, pairs, signs | (1 << w))  # a padding bit
        assert verify(case.statement, data).reason == "malformed"
        assert verify(case.statement, _challenge_bytes(case, pairs, signs))  # control


@given(st.binary(max_size=3000))
@settings(max_examples=50)
def test_verify_arbitrary_bytes_is_malformed(n64, data):
    v = verify(n64.statement, data)
    assert not v and v.reason == "malformed"


@given(st.data())
@settings(max_examples=50)
def test_verify_mutated_encoding_never_raises(n64, data):
    """Random edits of a valid encoding (splices, truncations, overwrites with a valid
    header) are rejected with a reason code, never an exception."""
    raw = bytearray(n64.data)
    kind = data.draw(st.sampled_from(["overwrite", "truncate", "insert", "delete"]))
    pos = data.draw(st.integers(0, len(raw) - 1))
    chunk = data.draw(st.binary(min_size=1, max_size=64))
    if kind == "overwrite":
        raw[pos: pos + len(chunk)] = chunk
        raw = raw[: len(n64.data)]
    elif kind == "truncate":
        raw = raw[:pos]
    elif kind == "insert":
        raw[pos:pos] = chunk
    else:
        del raw[pos: pos + len(chunk)]
    if bytes(raw) == n64.data:
        return
    v = verify(n64.statement, bytes(raw))
    assert not v and v.reason in REASONS


def test_header_layout_is_documented():
    assert _HEADER.size == 4 + 1 + 16 + 4 + 8
    assert struct.calcsize("<4sB16sIQ") == _HEADER.size


@pytest.mark.parametrize("name", ["n64", "n256", "default"])
def test_proof_has_exactly_one_sigma_repetition(cases, name):
    """v3 is one Σ-repetition without grinding: a single challenge in the subring R_d, one
    response per witness block of the documented shape, subring commitments, no nonce
    field and no second challenge in the encoding."""
    case = cases(name)
    p, zk = case.proof, zk_params_for(case.params)
    bnds = zk.bounds(p.k, p.bound)
    k, g, n, d, L = p.k, bnds.groups, zk.n, zk.d, len(zk.bfv.primes)
    assert g == case.statement.ciphertexts.groups == -(-k // case.params.components)
    assert [f.name for f in dataclasses.fields(p)] == [
        "params", "k", "bound", "t0", "t_msg", "t_G1", "h", "z_jm", "z_je", "c", "z"]
    assert isinstance(p.c, Challenge) and p.c.n == d == zk.subring_degree
    assert len(p.c.pairs) == len(p.c.signs) == zk.challenge_weight
    assert p.c.dense().shape == (d,)
    assert zk.views == n // d and (name != "n256" or zk.views == 4)
    assert not any(hasattr(zk, a) for a in ("reps", "repetitions", "grinding_bits"))
    assert list(p.z) == list(BLOCKS) == ["m", "e1", "u", "e2", "r"]
    shapes = {"m": (k, n), "e1": (k, n), "u": (g, n), "e2": (g, n), "r": (zk.ell, d)}
    assert {b: p.z[b].shape for b in BLOCKS} == shapes
    assert p.t0.shape == (zk.kappa, L, d)
    assert p.t_msg.shape == (zk.jl_polys + 1 + zk.rho, L, d)
    assert p.t_G1.shape == p.h.shape == (zk.rho, L, d)
    assert p.z_jm.shape == p.z_je.shape == (256,)
    # The encoding holds exactly one challenge: its sections tile the bytes (sections()
    # asserts that) with one challenge-sized section.
    secs = sections(case)
    assert secs["c"][1] - secs["c"][0] == _challenge_size(zk)
    assert Challenge.decode(case.data[slice(*secs["c"])], d, zk.challenge_weight) == p.c
