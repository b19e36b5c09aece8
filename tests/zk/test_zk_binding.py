"""The (m, e1) part of the ciphertext binding (proofs/security.md §2.2, item G1).

A BFV ciphertext binds m only modulo t: (x_m, x_e1) = n·(t, q mod t) is a short kernel
vector of (m, e1) ↦ Δ·m + e1 (mod q). Knowledge soundness needs the extraction box of three
transcripts to exclude it; `ProofBounds` refuses every statement for which it does not.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkflpq.bfv.params import DEFAULT, INSECURE_N64, INSECURE_N256, BfvParams
from zkflpq.zk import Verdict, verify
from zkflpq.zk.params import ZkParams, kernel_free_box, zk_params_for

B_DEFAULT = 81920  # ⌊5·2^14⌋


def _kernel_solutions(q: int, t: int, x_max: int, y_max: int) -> list[tuple[int, int]]:
    """Naive twin: every (x, y) ≠ 0 in the box with Δ·x + y ≡ 0 (mod q), by enumeration."""
    delta = q // t
    xs = np.arange(-x_max, x_max + 1, dtype=np.int64)
    ys = np.arange(-y_max, y_max + 1, dtype=np.int64)
    hit = (delta * xs[:, None] + ys[None, :]) % q == 0
    return [(int(xs[i]), int(ys[j])) for i, j in zip(*np.nonzero(hit), strict=True)
            if xs[i] or ys[j]]


@settings(max_examples=300, deadline=None)
@given(q=st.integers(3, 20000).map(lambda v: v | 1), log_t=st.integers(1, 8),
       x_max=st.integers(0, 400), y_max=st.integers(0, 60))
def test_kernel_free_box_is_sufficient(q, log_t, x_max, y_max):
    t = 1 << log_t
    if t >= q:
        return
    if kernel_free_box(q, t, x_max, y_max):
        assert _kernel_solutions(q, t, x_max, y_max) == []


@settings(max_examples=200, deadline=None)
@given(q=st.integers(3, 20000).map(lambda v: v | 1), log_t=st.integers(1, 8),
       extra_x=st.integers(0, 50), extra_y=st.integers(0, 50))
def test_the_kernel_vector_t_r_is_found_once_the_box_holds_it(q, log_t, extra_x, extra_y):
    """C2 is necessary: with |x| ≤ t and |y| ≤ q mod t allowed, (t, q mod t) is a solution."""
    t = 1 << log_t
    r = q % t
    if t >= q or r == 0:
        return
    x_max, y_max = t + extra_x, r + extra_y
    assert not kernel_free_box(q, t, x_max, y_max)
    assert (t, r) in _kernel_solutions(q, t, x_max, y_max)


def test_default_accepts_up_to_max_chunks_and_refuses_beyond():
    zk = zk_params_for(DEFAULT)
    k = zk.max_chunks(B_DEFAULT)
    assert k * DEFAULT.n >= 1 << 21  # the 2^20 benchmark statement is inside
    assert zk.bounds(k, B_DEFAULT).ciphertext_binding
    assert zk.bounds(256, B_DEFAULT).ciphertext_binding
    with pytest.raises(ValueError, match="would not bind"):
        zk.bounds(k + 1, B_DEFAULT)
    x, y = zk.bounds(256, B_DEFAULT).binding_box
    assert y < DEFAULT.q % DEFAULT.t and x == 12 * zk.challenge_weight * \
        zk.bounds(256, B_DEFAULT).z_inf_bound["m"]


def test_t_2_32_would_leave_the_kernel_vector_in_the_box():
    """The first v3 set (t = 2^32, q mod t ≈ 2^31.75) is refused at 2^20 parameters."""
    old = BfvParams(name="t32", n=DEFAULT.n, primes=DEFAULT.primes, t=1 << 32)
    zk = ZkParams(old)
    with pytest.raises(ValueError, match="would not bind"):
        zk.bounds(256, B_DEFAULT)
    assert zk.max_chunks(B_DEFAULT) < 256


@pytest.mark.parametrize("params", [DEFAULT, INSECURE_N256, INSECURE_N64])
def test_response_cap_and_mask_cap(params):
    """Z_b = ⌊6σ_b⌋ is enforced exactly (the Rice code carries every value ≤ Z_b); masks are
    capped far higher, at ⌊15σ_b⌋, and the product engines cover the larger of the two."""
    zk = zk_params_for(params)
    b = zk.bounds(4, 1000)
    for blk, sigma in b.sigma.items():
        assert b.z_inf_bound[blk] == int(6 * sigma)
        assert b.mask_inf_bound[blk] == int(15 * sigma)
        assert b.factor_bound[blk] == b.mask_inf_bound[blk]
        assert b.z_max_high[blk] == b.z_inf_bound[blk] >> b.z_low_bits[blk]
        cap = np.array([b.z_inf_bound[blk], -b.z_inf_bound[blk]], dtype=np.int64)
        assert b.z_fits(blk, cap) and not b.z_fits(blk, cap + np.array([1, 0]))
        assert not b.z_fits(blk, cap - np.array([0, 1]))
        assert not b.z_fits(blk, np.array([np.iinfo(np.int64).min]))  # |INT64_MIN| wraps


def test_honest_proofs_respect_the_response_cap(n64, n256):
    for case in (n64, n256):
        p = case.proof
        bnds = zk_params_for(case.statement.params).bounds(p.k, p.bound)
        assert all(bnds.z_fits(blk, p.z[blk]) for blk in p.z)


def test_a_kernel_shift_of_one_response_is_refused_by_the_cap(n64):
    """Adding (t, q mod t) to one coefficient of (z_m, z_e1) leaves the ciphertext relation
    W'_c0 unchanged (Δ·t + q mod t = q), but q mod t is far above the cap Z_e1, so the
    verifier refuses the response before any product."""
    p, stmt = n64.proof, n64.statement
    params = stmt.params
    bnds = zk_params_for(params).bounds(p.k, p.bound)
    r = params.q % params.t
    assert params.delta * params.t + r == params.q
    assert bnds.z_inf_bound["e1"] < r
    z_m, z_e1 = p.z["m"].copy(), p.z["e1"].copy()
    z_m.flat[0] += params.t
    z_e1.flat[0] += r
    bad = replace(p, z=dict(p.z, m=z_m, e1=z_e1))
    assert verify(stmt, bad) == Verdict(False, "response_too_large")
    assert verify(stmt, p)
