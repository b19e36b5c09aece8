#!/usr/bin/env python3
"""Executable parameter check for the norm proof v3 (spec §7 and v3 spec; argument in
proofs/security.md).

    python proofs/params_check.py [--json] [--preset NAME] [--samples S] [--self-test]

For every BFV preset it evaluates, from the library's own objects (BfvParams,
`zk_params_for(bfv)`, `ProofBounds` = `zk.bounds(k, B)`, the exact-product engines,
`proof_size`, `ciphertext_size`, the challenge sampler), the constraints the v3 argument
relies on, and prints them. The exit status is 0 iff every constraint of DEFAULT holds;
INSECURE_* presets are reported and their failures are printed as "insecure by design"
(they never change the exit status). `--self-test` instead evaluates deliberately
broken parameter sets and exits 0 iff each of them fails, for its own reason.

Estimates labelled "core-SVP" are ROUGH: the 2016 primal-uSVP estimate
(Alkim–Ducas–Pöppelmann–Schwabe) and the matching SIS estimate, with the usual
δ_β formula and cost 0.292·β (classical) / 0.265·β (quantum), implemented below in a
few lines. They are a sanity check next to the HomomorphicEncryption.org table, not
a replacement for the lattice estimator.

JL term: computed for the worst w, never assumed. For the library's B_arp = T_jl/
JL_SOUND_FACTOR the shift reduction of proofs/security.md (Lemma S) loses a square root:
with the exact single-coordinate tail Pr[Bin(256, ½) ≤ 13] ≈ 2^-184.9 it gives only
≈ 2^-90.7 per projection (printed as `log2_lemma_s_per_projection`). The term used is the
direct bound on max_c Pr[‖Π1·w − c‖ < factor·‖w‖] (Π = Π1 − Π2, conditioned on Π2): a
Chernoff bound whose moment generating function is bounded for every w and every shift
by Hölder's inequality (`_holder_mgf_sup`), ≈ 2^-143.4 per projection for DEFAULT. The
written argument in proofs/security.md has to use that bound, not Lemma S.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from zkflpq.bfv.codec import ciphertext_size  # noqa: E402
from zkflpq.bfv.encoder import norm_bound  # noqa: E402
from zkflpq.bfv.params import DEFAULT, HE_STANDARD_MAX_LOGQ_128, PRESETS, BfvParams  # noqa: E402
from zkflpq.bfv.scheme import products_of  # noqa: E402
from zkflpq.ring.primes import ntt_primes, split_count  # noqa: E402
from zkflpq.zk import challenge as zk_challenge  # noqa: E402
from zkflpq.zk import params as zk_params  # noqa: E402
from zkflpq.zk.jl import JL_ROWS  # noqa: E402
from zkflpq.zk.params import ProofBounds, ZkParams, zk_params_for  # noqa: E402
from zkflpq.zk.proof import proof_size  # noqa: E402

SECURITY_BITS = 128
DIMS = (1 << 12, 1 << 17, 1 << 20)
TAU, SCALE = 5.0, float(1 << 14)  # the default pipeline: B = floor(τ·scale) = 81920
K_REQUIRED = 1000  # v3 spec §2: K_max ≥ 1000 clients at τ = 5, scale 2^14
K_REQUIRED_DIMS = (1 << 17, 1 << 20)
GHL_WRAP_FACTOR = 41  # q ≥ 41·dim·b (GHL22 Cor. 3.3 as used in LNP22 Lemma 2.9)
# Per-projection failure probability allowed to the JL step (two projections).
JL_TARGET_BITS = 130


# ---------------------------------------------------------------------------------------
# JL lower tails (worst case over w; no scipy)
# ---------------------------------------------------------------------------------------

def log2_binom_half_cdf(k: int, rows: int = JL_ROWS) -> float:
    """log2 Pr[Bin(rows, 1/2) ≤ k], exactly (Python integers)."""
    if k < 0:
        return -math.inf
    return math.log2(sum(math.comb(rows, j) for j in range(min(k, rows) + 1))) - rows


# g ≥ 0 only (the integrands are even in g): trapezoid-free Riemann sum, doubled.
_G = np.linspace(0.0, 12.0, 2001)
_G_WEIGHT = 2 * np.exp(-_G * _G / 2) / math.sqrt(2 * math.pi) * (_G[1] - _G[0])
_G_WEIGHT[0] /= 2
_A_GRID = np.linspace(1.0 / 64, 1.0, 64)


def _holder_mgf_sup(lam: float, shifted: bool) -> tuple[float, float]:
    """sup over a ∈ (0, 1] of K(a) = E_g[φ(g·a)^(1/a²)], g ~ N(0, 1), and the arg sup.

    For one JL row X = <π, w> with ‖w‖ = 1, e^{-λX²} = E_g cos(√(2λ)·g·X) gives
    E e^{-λX²} = E_g Π_j φ_j with φ_j = E_π cos(√(2λ)·g·π·w_j) = cos²(√(λ/2)·g·w_j)
    (π ∈ {0, ±1} w.p. ½, ¼, ¼). Shifted by any c and with Bernoulli(½) entries β (the
    Π1 of Lemma S): X = <β, w> − c = (<s, w> − c')/2 with Rademacher s, and
    |E e^{-λX²}| ≤ E_g Π_j |cos(√(λ/2)·g·w_j)|. Hölder with exponents 1/w_j² (Σ w_j² = 1)
    bounds E_g Π_j φ(g·w_j) by Π_j (E_g φ(g·w_j)^{1/w_j²})^{w_j²} ≤ sup_a K(a), for every
    w at once. The sup is taken on a 64-point grid of a and compared with the analytic
    a → 0 limit (the Gaussian row)."""
    arg = math.sqrt(lam / 2) * _G[None, :] * _A_GRID[:, None]
    base = np.abs(np.cos(arg)) if shifted else np.cos(arg) ** 2
    with np.errstate(divide="ignore"):
        vals = np.exp(np.log(np.maximum(base, 1e-300)) / (_A_GRID[:, None] ** 2))
    k = vals @ _G_WEIGHT
    limit = (1 + lam / 2) ** -0.5 if shifted else (1 + lam) ** -0.5
    i = int(np.argmax(k))
    return max(float(k[i]), limit), float(_A_GRID[i])


def log2_jl_lower_tail_bound(c: float, shifted: bool, rows: int = JL_ROWS) -> dict:
    """Chernoff bound, for EVERY w ≠ 0 (and every shift when `shifted`):
    log2 Pr[‖Π·w‖² < c·‖w‖²] ≤ (λc + rows·ln sup_a K(a))/ln 2 for every λ > 0, so a
    poorly optimised λ only loosens the bound. The exponent is convex in λ (a sup of
    log-MGFs), hence a scan and a golden-section refinement find its minimum."""
    def f(lam: float) -> tuple[float, float]:
        sup, arg = _holder_mgf_sup(lam, shifted)
        return (lam * c + rows * math.log(sup)) / math.log(2), arg

    scan = [(f(float(lam)), float(lam)) for lam in np.geomspace(0.05, 100.0, 16)]
    (best, arg), lam0 = min(scan)
    lo, hi = lam0 / 1.7, lam0 * 1.7
    gr = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - gr * (hi - lo), lo + gr * (hi - lo)
    f1, f2 = f(x1), f(x2)
    for _ in range(20):
        if f1[0] < f2[0]:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - gr * (hi - lo)
            f1 = f(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + gr * (hi - lo)
            f2 = f(x2)
    for (v, a), lam in ((f1, x1), (f2, x2)):
        if v < best:
            best, arg, lam0 = v, a, lam
    return {"log2_bound": best, "lambda": lam0, "worst_a": arg}


def jl_terms(sound_factor: float) -> dict:
    """The JL soundness term per projection for B_arp = T_jl/sound_factor.

    Extraction gives ‖Π·w̄ + ȳ mod q‖ ≤ T_jl for committed ȳ and Π = Π1 − Π2 (Bernoulli
    halves); w̄ is ruled out above B_arp if Pr_Π[‖Π·w̄ + ȳ‖ < sound_factor·‖w̄‖] is small.
    Two routes, both computed for the worst w:
    - Lemma S (proofs/security.md): ≤ Pr[‖Π·w‖² < c·‖w‖²]^{1/2}, c = (2·sound_factor)²;
      the worst case over w is at least the single-coordinate tail Pr[Bin(256,½) ≤ ⌊c⌋]
      (exact) and at most the Chernoff–Hölder bound.
    - direct: condition on Π2, bound max_c Pr[‖Π1·w − c‖² < sound_factor²·‖w‖²] by the
      shifted Chernoff–Hölder bound (every w, every shift); single-coordinate w with the
      best 0/1 shift gives Pr[Bin(256,½) ≤ ⌊sound_factor²⌋] (exact, a lower bound on it).
    The term used is the direct one (the smaller valid bound); both are reported."""
    c_unshifted = (2 * sound_factor) ** 2
    single = log2_binom_half_cdf(math.floor(c_unshifted))
    general = log2_jl_lower_tail_bound(c_unshifted, shifted=False)
    worst_unshifted = max(single, general["log2_bound"])
    k2 = sound_factor ** 2
    single_shift = log2_binom_half_cdf(math.floor(k2))
    direct = log2_jl_lower_tail_bound(k2, shifted=True)
    worst_direct = max(single_shift, direct["log2_bound"])
    return {"sound_factor": sound_factor, "c_unshifted": c_unshifted,
            "log2_single_coordinate_unshifted": single,
            "log2_general_unshifted_bound": general["log2_bound"],
            "log2_lemma_s_per_projection": worst_unshifted / 2,
            "log2_single_coordinate_shifted": single_shift,
            "log2_direct_shifted_bound": direct["log2_bound"],
            "direct_worst_a": direct["worst_a"],
            "log2_per_projection": worst_direct}


def bkz_delta(beta: int) -> float:
    """Root-Hermite factor of BKZ-β (the usual asymptotic formula, β ≥ 50)."""
    b = float(beta)
    return ((math.pi * b) ** (1 / b) * b / (2 * math.pi * math.e)) ** (1 / (2 * (b - 1)))


def primal_usvp_beta(n: int, q: int, sigma_e: float, sigma_s: float, m_max: int
                     ) -> tuple[int, int]:
    """Smallest BKZ block size β for which the 2016 primal-uSVP estimate succeeds on LWE
    with secret dimension n (std σ_s), error std σ_e, modulus q and ≤ m_max samples:
    σ_e·√β ≤ δ_β^(2β−d)·Vol^(1/d), d = n + m + 1, Vol = q^m·(σ_e/σ_s)^n (the secret
    coordinates rescaled so the target is balanced). Returns (β, d) with β ≥ 50 (50 means
    "at most 50": trivial)."""
    lq = math.log(q)
    lnu = math.log(sigma_e / sigma_s)
    # The optimal m is a few n at most; a fine grid there (a grid in fractions of m_max
    # missed it for m_max ≫ n and overestimated β by ~10).
    ms = sorted({max(1, int(m)) for m in np.linspace(1, min(m_max, 8 * n), 512)} | {m_max})
    for beta in range(50, 5000):
        ld = math.log(bkz_delta(beta))
        lhs = math.log(sigma_e) + 0.5 * math.log(beta)
        for m in ms:
            d = n + m + 1
            if beta > d:
                continue
            if lhs <= (2 * beta - d) * ld + (m * lq + n * lnu) / d:
                return beta, d
    return 5000, n + m_max + 1


def sis_beta(rows: int, cols: int, q: int, bound: float) -> tuple[int, int]:
    """Smallest β for which BKZ-β finds a vector of norm ≤ bound in the SIS lattice
    {x ∈ Z^cols : A·x = 0 mod q} (A has `rows` rows), using the best sub-dimension
    d ≤ cols: length ≈ δ_β^d·q^(rows/d). Returns (β, d); β = 0 if bound ≥ q (trivial
    solution q·e_1), β = 5000 means "not reached below 5000"."""
    if bound >= q:
        return 0, cols
    lq, lb = math.log(q), math.log(bound)
    for beta in range(50, 5000):
        ld = math.log(bkz_delta(beta))
        d_opt = math.sqrt(rows * lq / ld)
        for d in {int(d_opt), int(d_opt) + 1, cols, max(beta, rows + 1)}:
            d = min(max(d, beta), cols)
            if d * ld + rows * lq / d <= lb:
                return beta, d
    return 5000, cols


def core_svp(found: tuple[int, int]) -> dict:
    """Costs for BKZ-β in dimension d: core-SVP 0.292·β (classical) / 0.265·β (quantum),
    and the cost model behind the HomomorphicEncryption.org 2018 table,
    0.292·β + 16.4 + log2(8·d) (which puts the table's own boundary, e.g. N = 4096 with
    log2 q = 109, at ≈ 128 bits while core-SVP gives ≈ 95 there). The checks use the
    latter, as the HE standard does; core-SVP is printed as the conservative figure."""
    beta, d = found
    return {"beta": beta, "capped": beta >= 5000, "core_svp_classical": round(0.292 * beta, 1),
            "core_svp_quantum": round(0.265 * beta, 1),
            "he_model_classical": round(0.292 * beta + 16.4 + math.log2(8 * max(d, 1)), 1)
            if beta else 0.0}




# ---------------------------------------------------------------------------------------
# Result records
# ---------------------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    ok: bool
    value: object
    detail: str
    category: str  # security | ring | soundness | zk | jl | products | decryption | size


@dataclass
class Report:
    preset: str
    insecure: bool
    checks: list[Check] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def add(self, name, ok, value, detail, category) -> None:
        self.checks.append(Check(name, bool(ok), value, detail, category))

    def check(self, name: str) -> Check:
        (c,) = [c for c in self.checks if c.name == name]
        return c

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def to_json(self) -> dict:
        return {"preset": self.preset, "insecure": self.insecure, "ok": self.ok,
                "failures": self.failures(), "info": self.info,
                "checks": [c.__dict__ for c in self.checks]}


# ---------------------------------------------------------------------------------------
# Individual constraints (callable on their own: the tests and --self-test use them)
# ---------------------------------------------------------------------------------------

def ls_split_check(primes: tuple[int, ...], degrees: tuple[int, ...],
                   max_diff_inf: int = 2) -> dict:
    """For every prime and ring degree n: p ≡ 5 (mod 8), split_count(p, n) == 2, and the
    Lyubashevsky–Seiler condition p^{1/l}/√l > max ‖c − c'‖∞ with l = split_count(p, n),
    so that every non-zero difference of challenges is a unit mod p."""
    rows, ok = [], True
    for p in primes:
        for n in degrees:
            lcount = split_count(p, n)
            ls = math.exp(math.log(p) / lcount) / math.sqrt(lcount)
            row = {"p": p, "n": n, "p_mod_8": p % 8, "split_count": lcount,
                   "ls_radius": ls, "ls_ok": ls > max_diff_inf}
            row["ok"] = p % 8 == 5 and lcount == 2 and row["ls_ok"]
            ok &= row["ok"]
            rows.append(row)
    return {"ok": ok, "rows": rows}


def challenge_set_fraction(zk: ZkParams, samples: int, seed: int = 2024) -> dict:
    """|C'|/|C| two ways: Monte Carlo over uniform members of C (w distinct pair indices in
    [1, d/2), random signs), and the acceptance rate of the library sampler's operator-
    norm test (zkflpq.zk.challenge: the candidates it draws before rejection). Returns the
    estimates and the smaller one-sided 99.9 % lower confidence bound."""
    d, w, eta = zk.d, zk.challenge_weight, zk.eta
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(samples):
        idx = rng.choice(np.arange(1, d // 2), size=w, replace=False)
        sg = rng.choice([-1, 1], size=w)
        c = np.zeros(d, dtype=np.int64)
        c[idx], c[d - idx] = sg, -sg
        hits += zk_challenge.operator_norm(c) <= eta
    lib_hits = 0
    for i in range(samples):
        cand = zk_challenge._sample_in_c(b"params-check" + i.to_bytes(4, "little"), d, w)
        lib_hits += zk_challenge.operator_norm(cand.dense()) <= eta

    def lower(h: int) -> float:
        p = h / samples
        return max(p - 3.09 * math.sqrt(max(p * (1 - p), 1e-12) / samples), 1.0 / samples)

    return {"fraction_uniform": hits / samples, "fraction_sampler": lib_hits / samples,
            "lower": min(lower(hits), lower(lib_hits)), "samples": samples}


def bounds_of(zk: ZkParams, k: int, bound: int) -> tuple[ProofBounds, str | None]:
    """(zk.bounds(k, B), None) when the library accepts (k, B); otherwise the same formulas
    WITHOUT the library's validation (so the constraints can still be evaluated and
    reported) and the library's error message."""
    try:
        return zk.bounds(k, bound), None
    except ValueError as exc:
        b = object.__new__(ProofBounds)
        for name, val in (("zk", zk), ("k", k), ("bound", bound)):
            object.__setattr__(b, name, val)
        return b, str(exc)


def capacity_rows(bnds: ProofBounds) -> list[dict]:
    """Each product engine's capacity M = P/4 against ProofBounds.product_bounds."""
    rows = []
    for name, engine, need in zip(("R_N", "R_d", "R_d squares"), bnds.engines,
                                  bnds.product_bounds, strict=True):
        cap = engine.capacity
        rows.append({"engine": name, "aux_primes": len(engine.aux_primes),
                     "log2_capacity": math.log2(cap), "log2_bound": math.log2(need),
                     "margin_bits": math.log2(cap) - math.log2(need), "ok": cap > need})
    return rows


def bfv_capacity_row(bfv: BfvParams) -> dict:
    """zkflpq.bfv.scheme.products_of (keys, encryption, decryption): uniform × ternary in
    R_N has coefficients ≤ N·(q/2 + 1)."""
    ep = products_of(bfv)
    need = bfv.n * (bfv.q // 2 + 1)
    return {"engine": "BFV R_N", "aux_primes": len(ep.aux_primes),
            "log2_capacity": math.log2(ep.capacity), "log2_bound": math.log2(need),
            "margin_bits": math.log2(ep.capacity) - math.log2(need), "ok": ep.capacity > need}


def decryption_row(zk: ZkParams, bnds: ProofBounds, B: int, k_required: int) -> dict:
    """K_max for the sum of K proven updates (multi-message form). The noise of chunk j
    (component j of its group) after summing K clients is V = Σ_clients (e1 − e_j·u +
    s_j·e2); with ‖x·y‖∞ ≤ ‖x‖·‖y‖ and ‖e1‖, ‖u‖, ‖e2‖ ≤ B_arp_noise (the extracted bound
    on the client's whole noise vector): ‖V‖∞ ≤ K·B_arp_noise·(1 + ‖e_j‖ + ‖s_j‖), with
    ‖e_j‖ ≤ error_norm_bound(N) (A-key: keygen resamples above it) and ‖s_j‖ ≤ √N.
    Rounding is exact iff t·‖V‖∞ + (q mod t)·‖M‖∞ < q/2, ‖M‖∞ ≤ K·B; no wrap mod t iff
    K·B < t/2."""
    bfv = zk.bfv
    q, t, n = bfv.q, bfv.t, bfv.n
    e_key, s_key = bfv.error_norm_bound(n), math.sqrt(n)
    per_client = bnds.arp_bound_noise * (1 + e_key + s_key)
    r_t = q % t
    k_plain = bfv.max_clients(B)
    k_noise = int((q // 2 - 1) // math.ceil(t * per_client + r_t * B))
    k_max = min(k_plain, k_noise)
    if k_max != bnds.max_clients:  # the library's own figure (what the aggregator enforces)
        raise AssertionError("ProofBounds.max_clients disagrees with the written bound")
    return {"d": None, "k": bnds.k, "log2_B_arp_noise": math.log2(bnds.arp_bound_noise),
            "e_key": e_key, "s_key": s_key, "log2_noise_inf_per_client": math.log2(per_client),
            "K_plaintext": k_plain, "K_noise": k_noise, "K_max": k_max,
            "K_required": k_required, "ok": k_max >= max(1, k_required)}


# ---------------------------------------------------------------------------------------
# The analysis
# ---------------------------------------------------------------------------------------

_JL_CACHE: dict[float, dict] = {}


def analyse(bfv: BfvParams, zk: ZkParams | None = None, *, dims=DIMS, bound: int | None = None,
            cset_samples: int = 400, k_required: int = K_REQUIRED,
            k_required_dims=K_REQUIRED_DIMS) -> Report:
    """All constraints for one parameter set. `zk`, `bound`, `k_required` can be
    overridden (tests, --self-test)."""
    zk = zk or zk_params_for(bfv)
    B = bound if bound is not None else norm_bound(TAU, SCALE)
    q, n, d = bfv.q, bfv.n, zk.d
    log2q = math.log2(q)
    p_min = min(bfv.primes)
    rep = Report(bfv.name, bfv.insecure)
    rep.info.update({"N": n, "d_subring": d, "views": zk.views, "log2_q": round(log2q, 3),
                     "primes": list(bfv.primes), "t": bfv.t, "components": bfv.components,
                     "B": B, "tau": TAU, "scale": SCALE, "rho": zk.rho, "kappa": zk.kappa,
                     "mlwe_rank": zk.mlwe_rank, "ell": zk.ell, "alpha": zk.alpha,
                     "alpha_jl": zk.alpha_jl, "challenge_weight": zk.challenge_weight,
                     "eta": round(zk.eta, 3), "bdlop_messages": zk.messages})
    ks = {dim: -(-dim // n) for dim in dims}
    bnd = {dim: bounds_of(zk, k, B) for dim, k in ks.items()}
    rep.info["library_rejects_statement"] = sorted({m for _, m in bnd.values() if m})

    # -- 1. BFV (RLWE) security ------------------------------------------------------
    rep.add("bfv_he_standard_table", bfv.he_standard_ok(),
            {"log2_q": round(log2q, 2), "max_log2_q": HE_STANDARD_MAX_LOGQ_128.get(n),
             "sigma": round(bfv.error_sigma, 3)},
            "HomomorphicEncryption.org 2018 table (ternary secret, 128-bit classical): "
            "log2 q ≤ max for N and σ ≥ 3.19", "security")
    samples = (bfv.components + 1) * n
    bfv_est = core_svp(primal_usvp_beta(n, q, bfv.error_sigma, math.sqrt(2 / 3), samples))
    hybrid_loss = math.log2(bfv.components + 1)
    rep.add("bfv_rlwe_multi_sample", bfv_est["he_model_classical"] - hybrid_loss
            >= SECURITY_BITS,
            dict(bfv_est, samples=samples, hybrid_loss_bits=round(hybrid_loss, 2)),
            f"pk = L' = {bfv.components} RLWE samples (a, b_j) with independent secrets s_j, "
            f"a ciphertext group = L' + 1 samples with one secret u: a hybrid over the L' "
            f"key components and then the group gives Adv ≤ L'·Adv_1 + Adv_(L'+1); ROUGH "
            f"primal-uSVP estimate with ≤ (L'+1)·N samples, minus log2(L'+1) bits, ≥ 128 "
            "(HE-standard cost model)", "security")

    # -- 2. Ring: partially splitting primes -------------------------------------------
    ls = ls_split_check(bfv.primes, (n, d))
    rep.add("primes_two_factors_ls", ls["ok"], ls["rows"],
            "every BFV prime p ≡ 5 (mod 8), X^N+1 and Y^d+1 have split_count 2 mod p, and "
            "p^{1/l}/√l > 2 ≥ ‖c − c'‖∞ (Lyubashevsky–Seiler 2018): challenge differences "
            "are units", "ring")

    # -- 3. BDLOP commitments over R_d ---------------------------------------------------
    big = bnd[max(dims)][0]
    T_r = big.z_norm_bound["r"]
    msis_bound = 8 * zk.eta * T_r
    msis = core_svp(sis_beta(zk.kappa * d, zk.ell * d, q, msis_bound))
    rep.add("bdlop_binding_msis", msis["he_model_classical"] >= SECURITY_BITS
            and msis["core_svp_classical"] >= SECURITY_BITS,
            dict(msis, log2_bound=round(math.log2(msis_bound), 2), rows=zk.kappa, cols=zk.ell,
                 d=d),
            f"ROUGH core-SVP of MSIS for A0 = [I_κ | A0'] ({zk.kappa}×{zk.ell} over R_d, "
            f"d = {d}), extracted norm 8·η·T_r at dim {max(dims)}", "security")
    T_u, T_e2 = big.z_norm_bound["u"], big.z_norm_bound["e2"]
    ct_bound = 8 * zk.eta * math.sqrt(T_u ** 2 + T_e2 ** 2)
    ct_msis = core_svp(sis_beta(n, 2 * n, q, ct_bound))
    rep.add("ciphertext_binding_msis", ct_msis["he_model_classical"] >= SECURITY_BITS,
            dict(ct_msis, log2_bound=round(math.log2(ct_bound), 2)),
            "binding of the BFV ciphertext as Ajtai commitment, (u, e2) part: MSIS for "
            "[a | 1] at 8·η·‖(T_u, T_e2)‖ (the (m, e1) part: ciphertext_binding_m_e1)",
            "security")
    # (m, e1) part of the ciphertext binding (§2.2): the kernel vectors k·(t, q mod t) lie
    # outside the extraction box of three transcripts, at every dimension checked.
    r_t = q % bfv.t
    bind_rows = []
    for dim in dims:
        b_dim = bnd[dim][0]
        x_box, y_box = b_dim.binding_box
        bind_rows.append({"d": dim, "k": b_dim.k, "log2_X": round(math.log2(x_box), 2),
                          "log2_Y": round(math.log2(y_box), 2),
                          "log2_q_mod_t": round(math.log2(r_t), 3),
                          "log2_delta": round(math.log2(bfv.delta), 2),
                          "C1": (x_box // bfv.t + 1) * r_t + y_box < bfv.delta,
                          "C2": y_box < r_t, "library": b_dim.ciphertext_binding})
    k_bind = zk.max_chunks(B)
    rep.info["max_chunks"] = k_bind
    rep.add("ciphertext_binding_m_e1",
            all(r["C1"] and r["C2"] and r["library"] for r in bind_rows) and k_bind >= 1,
            bind_rows + [{"max_chunks": k_bind, "max_parameters": k_bind * n}],
            "the only x with Δ·x_m + x_e1 ≡ 0 (mod q) in the box |x_m| ≤ X = 12·w·Z_m, "
            "|x_e1| ≤ Y = 12·w·Z_e1 is 0: (C1) (⌊X/t⌋ + 1)·(q mod t) + Y < Δ and (C2) "
            "Y < q mod t; ProofBounds refuses statements of more than max_chunks chunks",
            "security")
    mlwe = core_svp(primal_usvp_beta(zk.mlwe_rank * d, q, math.sqrt(2 / 3), math.sqrt(2 / 3),
                                     (zk.kappa + zk.messages) * d))
    rank = zk.ell - zk.kappa - zk.messages
    rep.add("bdlop_hiding_mlwe", rank >= 1 and rank == zk.mlwe_rank
            and mlwe["he_model_classical"] >= SECURITY_BITS,
            dict(mlwe, mlwe_rank=rank, ell=zk.ell, messages=zk.messages,
                 secret_dim=rank * d, samples=(zk.kappa + zk.messages) * d),
            f"hiding: ℓ − κ − #messages = {zk.ell} − {zk.kappa} − {zk.messages} = {rank} ≥ 1 "
            f"and MLWE of rank {rank} over R_d (dimension rank·d = {rank * d}, ternary "
            "secret and error) ≥ 128 bits in the HE-standard cost model", "zk")

    # -- 4. Challenge space --------------------------------------------------------------
    frac = challenge_set_fraction(zk, cset_samples)
    c_bits = zk.challenge_bits
    c_prime_bits = c_bits + math.log2(frac["lower"])
    rep.add("challenge_space", c_prime_bits >= SECURITY_BITS,
            {"d": d, "w": zk.challenge_weight, "log2_C": round(c_bits, 2),
             "fraction_uniform": frac["fraction_uniform"],
             "fraction_sampler": frac["fraction_sampler"],
             "log2_C_prime_lower": round(c_prime_bits, 2)},
            "|C'| = |C|·Pr[‖c‖_op ≤ η] ≥ 2^128 in R_d (fraction by Monte Carlo over C and by "
            "the library sampler's acceptance rate, 99.9 % lower bound)", "soundness")

    # -- 5. JL / approximate range proof and no-wrap --------------------------------------
    factor = zk_params.JL_SOUND_FACTOR
    if factor not in _JL_CACHE:
        _JL_CACHE[factor] = jl_terms(factor)
    jl = _JL_CACHE[factor]
    rep.info["jl"] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in jl.items()}
    rep.add("jl_lower_tail", jl["log2_per_projection"] <= -JL_TARGET_BITS,
            {"log2_per_projection": round(jl["log2_per_projection"], 2),
             "log2_lemma_s_per_projection": round(jl["log2_lemma_s_per_projection"], 2),
             "log2_single_coordinate_unshifted": round(
                 jl["log2_single_coordinate_unshifted"], 2)},
            f"B_arp = T_jl/{factor:.4f}: worst case over w (and the committed shift) of "
            "Pr[‖Π1·w − c‖ < factor·‖w‖], shifted Chernoff–Hölder bound, ≤ 2^-130 per "
            "projection (via Lemma S the same factor gives only the printed, weaker bound)",
            "jl")
    jl_rows, jl_ok = [], True
    for dim in dims:
        b = bnd[dim][0]
        k, g = b.k, b.groups
        arp_m, arp_e = b.arp_bound_message, b.arp_bound_noise
        dim_m, dim_e = k * n + d, (k + 2 * g) * n
        cond_m = q >= GHL_WRAP_FACTOR * dim_m * arp_m
        cond_e = q >= GHL_WRAP_FACTOR * dim_e * arp_e
        nowrap = 2 * arp_m ** 2 < q
        jl_ok &= cond_m and cond_e and nowrap
        jl_rows.append({"d": dim, "k": k, "groups": g, "log2_B_arp_m": math.log2(arp_m),
                        "log2_B_arp_e": math.log2(arp_e),
                        "log2_41_dim_b_m": round(math.log2(41 * dim_m * arp_m), 2),
                        "log2_41_dim_b_e": round(math.log2(41 * dim_e * arp_e), 2),
                        "log2_2_Barp2": round(math.log2(2 * arp_m ** 2), 2),
                        "jl_message_ok": cond_m, "jl_noise_ok": cond_e, "no_wrap_ok": nowrap})
    rep.add("jl_and_no_wrap", jl_ok, jl_rows,
            f"q ≥ 41·dim·B_arp for (m, a) (dim kN + d) and (u, e1, e2) (dim (k + 2g)·N), and "
            f"2·B_arp_m² < q, for B = {B}", "jl")

    def sound(Bc: int) -> bool:
        for k in sorted(set(ks.values()) | {k_bind}):
            b = bounds_of(zk, k, Bc)[0]
            am, ae = b.arp_bound_message, b.arp_bound_noise
            if not (2 * am ** 2 < q and q >= 41 * (k * n + d) * am
                    and q >= 41 * (k + 2 * b.groups) * n * ae and Bc < bfv.t // 2):
                return False
        return True

    def accepted(Bc: int) -> bool:
        return all(bounds_of(zk, k, Bc)[1] is None for k in set(ks.values()) | {k_bind})

    def largest(pred) -> int:
        lo, hi = 0, (1 << 34) - 1
        if pred(hi):
            return hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if pred(mid) else (lo, mid)
        return lo

    b_max, b_max_lib = largest(sound), largest(lambda Bc: Bc >= 1 and accepted(Bc))
    rep.add("bound_range_sound", 1 <= b_max_lib <= b_max,
            {"B_max": b_max, "log2_B_max": round(math.log2(max(b_max, 1)), 3),
             "B_max_library": b_max_lib},
            "every B that ProofBounds accepts satisfies the JL, no-wrap and B < t/2 "
            "conditions (at the dims above and the largest k it accepts, max_chunks)", "jl")
    rep.add("default_bound_accepted", accepted(B) and sound(B),
            {"B": B, "library_accepts": accepted(B)},
            "B = floor(τ·scale) is sound and ProofBounds accepts it", "jl")

    # -- 6. Knowledge error --------------------------------------------------------------
    c_prime = 2.0 ** c_prime_bits
    eps_chal = 1.0 / c_prime + 1.0 / max(c_prime - 1, 1.0)
    per_gamma = math.ceil(2 ** 32 / p_min) / 2 ** 32  # γ uniform in [0, 2^32)
    per_rep = max(per_gamma, 1.0 / p_min)  # μ uniform mod q
    eps_rlc = per_rep ** zk.rho
    eps_jl = 2 * 2.0 ** jl["log2_per_projection"]
    total = eps_chal + eps_rlc + eps_jl
    rep.add("knowledge_error", total <= 2.0 ** -SECURITY_BITS,
            {"log2_total": round(math.log2(total), 2),
             "log2_challenge": round(math.log2(eps_chal), 2),
             "log2_rlc": round(math.log2(eps_rlc), 2),
             "log2_rlc_per_repetition": round(math.log2(per_rep), 3),
             "log2_jl_two_projections": round(math.log2(eps_jl), 2)},
            f"sum of: challenge, one Σ-repetition, 3-special soundness (1/|C'| for the second "
            f"transcript + 1/(|C'|−1) for the third); ρ = {zk.rho} random combinations "
            "(max(ceil(2^32/p_min)/2^32, 1/p_min))^ρ; two JL projections at the worst-case "
            "tail above; ≤ 2^-128", "soundness")

    # -- 7. Exact products: auxiliary-prime capacity -------------------------------------
    cap_rows, cap_ok = [], True
    for dim in dims:
        for row in capacity_rows(bnd[dim][0]):
            cap_ok &= row["ok"]
            cap_rows.append(dict(row, d=dim))
    bfv_row = bfv_capacity_row(bfv)
    cap_ok &= bfv_row["ok"]
    cap_rows.append(bfv_row)
    rep.add("aux_prime_capacity", cap_ok, cap_rows,
            "capacity P/4 of each engine in ProofBounds.engines > ProofBounds.product_bounds, "
            "and products_of(bfv) capacity > N·(q/2 + 1)", "products")

    # -- 8. Decryption of the aggregate --------------------------------------------------
    dec_rows, dec_ok = [], True
    for dim in dims:
        need = k_required if dim in k_required_dims else 1
        row = decryption_row(zk, bnd[dim][0], B, need)
        row["d"] = dim
        dec_ok &= row["ok"]
        dec_rows.append(row)
    rep.add("decryption_K_max", dec_ok, dec_rows,
            f"K_max = min(K·B < t/2, K·(t·noise_∞ + (q mod t)·B) < q/2) with noise_∞ = "
            f"B_arp_noise·(1 + ‖e_j‖ + ‖s_j‖); K_max ≥ {k_required} at d ∈ "
            f"{list(k_required_dims)}", "decryption")

    # -- 9. Rejection sampling -----------------------------------------------------------
    M, M_jl = zk.repetition_rate(zk.alpha), zk.repetition_rate(zk.alpha_jl)
    small = bnd[min(dims)][0]
    joint = sum(small.shift_bounds[x] ** 2 / small.sigma[x] ** 2 for x in small.sigma)
    rep.add("rejection_sampling", M < 4 and M_jl < 2 and joint <= (1 + 1e-9) / zk.alpha ** 2,
            {"M_sigma": round(M, 4), "M_jl": round(M_jl, 4),
             "alpha2_times_joint_shift2": round(joint * zk.alpha ** 2, 6)},
            "expected repetitions M = exp(r/α + 1/(2α²)); one rejection step over all blocks: "
            "Σ_b η²β_b²/σ_b² ≤ 1/α²", "zk")

    # -- 10. Sizes ---------------------------------------------------------------------------
    sizes = []
    for dim in dims:
        b = bnd[dim][0]
        ps, cs = proof_size(zk, b), ciphertext_size(bfv, b.k)
        sizes.append({"d": dim, "k": b.k, "proof_bytes": ps,
                      "proof_bytes_per_parameter": round(ps / dim, 3),
                      "ciphertext_bytes": cs,
                      "ciphertext_bytes_per_parameter": round(cs / dim, 3)})
    rep.info["sizes"] = sizes
    return rep


# ---------------------------------------------------------------------------------------
# Deliberately broken parameter sets (--self-test; the tests call these too)
# ---------------------------------------------------------------------------------------

def broken_fully_splitting() -> dict:
    """NTT-friendly primes (p ≡ 1 mod 2N): BfvParams refuses them, and the split/LS check
    fails for them."""
    primes = ntt_primes(DEFAULT.n, 27, len(DEFAULT.primes))
    try:
        BfvParams(name="BROKEN-fully-splitting", n=DEFAULT.n, primes=primes, t=DEFAULT.t)
        refused = None
    except ValueError as exc:
        refused = str(exc)
    ls = ls_split_check(primes, (DEFAULT.n, zk_params_for(DEFAULT).d))
    return {"name": "fully_splitting_primes", "primes": list(primes), "refused": refused,
            "split_counts": sorted({r["split_count"] for r in ls["rows"]}),
            "failed": refused is not None and not ls["ok"],
            "reason": "BfvParams refuses; split_count = degree, LS radius < 2"}


def broken_too_few_aux() -> dict:
    """aux_counts = (3, 3, 5): ProofBounds refuses, and the capacity check fails."""
    zk = ZkParams(DEFAULT, aux_counts=(3, 3, 5))
    B = norm_bound(TAU, SCALE)
    k = -(-(1 << 17) // DEFAULT.n)
    try:
        zk.bounds(k, B)
        refused = None
    except ValueError as exc:
        refused = str(exc)
    rows = capacity_rows(bounds_of(zk, k, B)[0])
    return {"name": "too_few_aux_primes", "refused": refused,
            "capacity": [{"engine": r["engine"], "margin_bits": round(r["margin_bits"], 2)}
                         for r in rows],
            "failed": refused is not None and not all(r["ok"] for r in rows),
            "reason": "capacity ≤ product bound"}


def broken_k_required(k_required: int = 10 ** 6) -> dict:
    rep = analyse(DEFAULT, cset_samples=50, dims=(1 << 17,), k_required=k_required,
                  k_required_dims=(1 << 17,))
    c = rep.check("decryption_K_max")
    return {"name": "K_max_too_small_for_K", "K_required": k_required,
            "K_max": c.value[0]["K_max"], "failures": rep.failures(),
            "failed": not c.ok, "reason": "K_max < required K"}


def broken_small_subring(degree: int = 32) -> dict:
    zk = ZkParams(DEFAULT, subring_degree=degree)
    rep = analyse(DEFAULT, zk=zk, cset_samples=50, dims=(1 << 12,))
    cs, ke = rep.check("challenge_space"), rep.check("knowledge_error")
    return {"name": f"challenge_set_d{degree}", "log2_C_prime": cs.value["log2_C_prime_lower"],
            "log2_knowledge_error": ke.value["log2_total"], "failures": rep.failures(),
            "failed": not cs.ok and not ke.ok, "reason": "|C'| < 2^128"}


def broken_small_t() -> dict:
    """t = 2^32 (the first v3 set): q mod t ≈ 2^31.75 is below the e1 extraction box at
    d = 2^20, so the (m, e1) binding check fails and ProofBounds refuses the statement."""
    bfv = BfvParams(name="BROKEN-t32", n=DEFAULT.n, primes=DEFAULT.primes, t=1 << 32)
    rep = analyse(bfv, cset_samples=50, dims=(1 << 20,), k_required=1)
    c = rep.check("ciphertext_binding_m_e1")
    row = c.value[0]
    return {"name": "t_too_small_for_binding", "log2_Y": row["log2_Y"],
            "log2_q_mod_t": row["log2_q_mod_t"], "max_chunks": rep.info["max_chunks"],
            "library_refuses": bool(rep.info["library_rejects_statement"]),
            "failed": not c.ok and bool(rep.info["library_rejects_statement"]),
            "reason": "Y ≥ q mod t: k·(t, q mod t) lies in the extraction box"}


def self_test() -> list[dict]:
    return [broken_fully_splitting(), broken_too_few_aux(), broken_k_required(),
            broken_small_subring(16), broken_small_subring(32), broken_small_t()]


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------

def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def print_report(rep: Report) -> None:
    tag = "INSECURE (reported only)" if rep.insecure else "checked"
    print(f"== {rep.preset}  [{tag}]")
    i = rep.info
    print(f"   N={i['N']} d={i['d_subring']} L'={i['components']} log2 q={i['log2_q']} "
          f"t=2^{int(math.log2(i['t']))} B={i['B']} ρ={i['rho']} κ={i['kappa']} "
          f"rank={i['mlwe_rank']} ℓ={i['ell']} α={i['alpha']} α_jl={i['alpha_jl']} "
          f"w={i['challenge_weight']} η={i['eta']} messages={i['bdlop_messages']}")
    for c in rep.checks:
        status = "PASS" if c.ok else ("FAIL (insecure by design)" if rep.insecure else "FAIL")
        print(f"   [{status}] {c.name}: {c.detail}")
        for v in c.value if isinstance(c.value, list) else [c.value]:
            if isinstance(v, dict):
                print("        " + ", ".join(f"{a}={_fmt(b)}" for a, b in v.items()))
            else:
                print(f"        {v}")
    print("   JL: " + ", ".join(f"{a}={_fmt(b)}" for a, b in i["jl"].items()))
    for s in i["sizes"]:
        print("   size: " + ", ".join(f"{a}={_fmt(b)}" for a, b in s.items()))
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--preset", action="append", help="only this preset (repeatable)")
    ap.add_argument("--samples", type=int, default=400,
                    help="Monte-Carlo samples for the operator-norm challenge fraction")
    ap.add_argument("--self-test", action="store_true",
                    help="evaluate the deliberately broken sets; exit 0 iff all fail")
    args = ap.parse_args(argv)
    if args.self_test:
        results = self_test()
        ok = all(r["failed"] for r in results)
        if args.json:
            print(json.dumps({"ok": ok, "broken": results}, indent=1, default=float))
        else:
            for r in results:
                tag = "expected failure" if r["failed"] else "UNEXPECTED PASS"
                print(f"[{tag}] {r['name']}: " + ", ".join(
                    f"{a}={_fmt(b)}" for a, b in r.items() if a not in ("name", "failed")))
        return 0 if ok else 1
    names = args.preset or list(PRESETS)
    reports = [analyse(PRESETS[name], cset_samples=args.samples) for name in names]
    default_reports = [r for r in reports if r.preset == DEFAULT.name]
    exit_ok = all(r.ok for r in default_reports)
    if args.json:
        print(json.dumps({"ok": exit_ok, "security_bits": SECURITY_BITS,
                          "reports": [r.to_json() for r in reports]}, indent=1, default=float))
    else:
        for r in reports:
            print_report(r)
        for r in default_reports:
            print(f"DEFAULT ({r.preset}): " + ("all constraints hold" if r.ok else
                  "FAILED constraints: " + ", ".join(r.failures())))
    return 0 if exit_ok else 1


if __name__ == "__main__":
    sys.exit(main())
