"""Proof-system parameters (v3) and the per-statement bounds derived from them.

Widths follow Lyubashevsky's rejection sampling (Lemma 4.7, 2012): a mask of width
σ = α·T hides a shift of norm ≤ T with repetition rate M = exp(r/α + 1/(2α²)),
where r = √(2·(λ+1)·ln 2) makes the tail event Pr[|<y, v>| > r·σ·‖v‖] ≤ 2^-λ.
Blocks of different sizes are normalised to a common α by
σ_b = α·η·β_b·√(n_total / n_b) (so Σ_b ‖c·s_b‖²/σ_b² ≤ 1/α²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..bfv.params import BfvParams
from ..ring.exact import AUX_PRIME_BITS, ExactProducts, exact_products
from ..ring.packing import RICE_MAX_LOW, rice_low_bits
from ..ring.primes import ntt_primes
from .challenge import challenge_space_bits, challenge_weight, opnorm_bound
from .jl import JL_ROWS

__all__ = ["ZkParams", "ProofBounds", "zk_params_for", "GHL_JL_FACTOR", "JL_SOUND_FACTOR"]

SECURITY_BITS = 128
TAIL_R = math.sqrt(2 * (SECURITY_BITS + 1) * math.log(2))  # ≈ 13.37
GHL_JL_FACTOR = math.sqrt(337)  # ‖Π·w‖ ≤ √337·‖w‖ except w.p. < 2^-128 (GHL22)
# What the JL responses guarantee about the committed (m, a), (u, e1, e2): B_arp = T_jl/1.8088.
# The published modular JL lemma (√26) is for Π·w; the verifier sees ȳ + Π·w with a committed,
# unbounded ȳ. proofs/security.md §2.6 (Lemma J, a worst-case bound over all w and shifts,
# evaluated by params_check) shows Pr[‖ȳ + Π·w‖ < (√13.087/2)·‖w‖] ≤ 2^-143 per projection.
JL_SOUND_FACTOR = math.sqrt(13.087) / 2
NORM_SLACK = 1.3  # ‖z_b‖ ≤ 1.3·σ_b·√n_b for the main blocks (Banaszczyk tail)
JL_NORM_SLACK = 1.5  # for the 256-entry JL responses
# Response cap: the prover restarts when an accepted response has a coefficient above
# ⌊6σ_b⌋ (a condition on z alone, which the simulator applies too; about 0.5 % of attempts
# at d = 2^20) and the verifier refuses it. It bounds the verifier's product factors and
# the extraction box of the ciphertext-binding argument (proofs/security.md §2.2, §5, §6.4).
INF_SIGMAS = 6
# Mask cap: masks above 15σ are resampled. The rounded sampler never exceeds 13.32σ + ½
# (an ideal Gaussian would, w.p. 2^-166.5 per coefficient); the cap makes the bound on the
# prover's own product factors explicit.
MASK_INF_SIGMAS = 15
MAX_CHUNKS = 1 << 16  # format limit on k; the binding box limits k further (max_chunks)


@dataclass(frozen=True)
class ZkParams:
    """Parameters of the norm proof (v3) on top of one BFV parameter set.

    Challenges, BDLOP commitments and the relation polynomials live in the subring
    R_d = Z_q[Y]/(Y^d + 1), Y = X^{N/d}, of R_N (LNP22's module-over-a-small-ring
    layout): each BFV chunk is a free R_d-module of rank N/d, and the fixed part of a
    proof is (N/d)× smaller. Mod every BFV prime (p ≡ 5 mod 8) Y^d + 1 has two factors,
    so differences of challenges (‖c − c'‖∞ ≤ 2 < √(p/2)) are units (Lyubashevsky–
    Seiler 2018, Cor. 1.2) and a single Σ-repetition is sound (proofs/security.md).
    """

    bfv: BfvParams
    subring_degree: int = 1024  # d
    rho: int = 5  # repetitions of the random-linear-combination step (1/p_min each)
    kappa: int = 1  # rows of A0 = [I_κ | A0']
    # ℓ − κ − #messages: the MLWE rank hiding the commitments. rank·d = 4096 gives the
    # hiding MLWE the lattice dimension of the BFV ring itself (proofs/security.md).
    mlwe_rank: int = 4
    # α trades size for proving time: a rejection restarts the Σ-step with probability
    # 1 − 1/M. α = 48 (M ≈ 1.32) costs about 2 bits per response coefficient more than
    # α = 12 (M ≈ 3.06) for about half the mean proving time.
    alpha: float = 48.0  # Σ-protocol mask slack (M ≈ 1.32)
    alpha_jl: float = 60.0  # JL mask slack (M ≈ 1.25)
    noise_tail_sds: float = 12.0  # public bound on ‖e‖²: mean + 12 standard deviations
    # Auxiliary-prime counts of the three product engines (R_N, R_d, R_d squares); None:
    # the fewest that cover the bounds (ProofBounds.product_bounds). Set explicitly only
    # to show that too few are refused (proofs/params_check.py).
    aux_counts: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if not (1 <= self.rho <= 16 and 1 <= self.kappa <= 4 and 1 <= self.mlwe_rank <= 8):
            raise ValueError("invalid rho/kappa/mlwe_rank")
        d = self.subring_degree
        if d < 16 or d & (d - 1) or d > self.bfv.n:
            raise ValueError("subring degree must be a power of two in [16, N]")
        if self.alpha < 2 or self.alpha_jl < 2:
            raise ValueError("alpha too small")

    @property
    def n(self) -> int:
        return self.bfv.n

    @property
    def d(self) -> int:
        return self.subring_degree

    @property
    def views(self) -> int:
        """N/d: the rank of R_N as an R_d-module (subring elements per BFV chunk)."""
        return self.bfv.n // self.subring_degree

    @cached_property
    def challenge_weight(self) -> int:
        return challenge_weight(self.d, SECURITY_BITS)

    @cached_property
    def challenge_bits(self) -> float:
        return challenge_space_bits(self.d, self.challenge_weight)

    @property
    def eta(self) -> float:
        """‖c‖_op bound of the challenge set, so ‖c·s‖ ≤ η·‖s‖ for every s (also in R_N,
        where c acts on each of the N/d subring components separately)."""
        return opnorm_bound(self.d, self.challenge_weight)

    @property
    def jl_polys(self) -> int:
        """Subring polynomials holding the 512 JL mask integers (one when d ≥ 512)."""
        return -(-2 * JL_ROWS // self.d)

    @property
    def messages(self) -> int:
        """BDLOP message polynomials: jl masks, a, g_1..g_ρ, G1_1..G1_ρ."""
        return self.jl_polys + 1 + 2 * self.rho

    @property
    def ell(self) -> int:
        """Length of the BDLOP randomness r ∈ R_d^ℓ (ternary): ℓ = κ + #messages +
        mlwe_rank (BDLOP18 §4; proofs/security.md)."""
        return self.kappa + self.messages + self.mlwe_rank

    @property
    def row_a(self) -> int:
        return self.jl_polys

    @property
    def rows_g(self) -> slice:
        return slice(self.jl_polys + 1, self.jl_polys + 1 + self.rho)

    @property
    def rows_G1(self) -> slice:
        return slice(self.jl_polys + 1 + self.rho, self.messages)

    @property
    def rows_sent(self) -> slice:
        """Messages committed in the first round: jl, a, g (t_G1 come later)."""
        return slice(0, self.jl_polys + 1 + self.rho)

    @staticmethod
    def repetition_rate(alpha: float) -> float:
        return math.exp(TAIL_R / alpha + 1 / (2 * alpha * alpha))

    def bounds(self, k: int, bound: int) -> ProofBounds:
        return ProofBounds(self, k, bound)

    def max_chunks(self, bound: int) -> int:
        """Where acceptance of `bounds(k, bound)` ends (0 if k = 1 is refused): beyond it
        the ciphertext-binding box (ProofBounds.ciphertext_binding) no longer excludes the
        kernel vectors. A binary search: the constraints tighten as k grows, up to a
        wobble of the group count ⌈k/L'⌉ that `params_check` shows not to matter here."""
        def ok(k: int) -> bool:
            try:
                self.bounds(k, bound)
            except ValueError:
                return False
            return True
        if not ok(1):
            return 0
        lo, hi = 1, MAX_CHUNKS + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo


@dataclass(frozen=True)
class ProofBounds:
    """Everything that depends on the statement's size: k chunks and the norm bound B."""

    zk: ZkParams
    k: int
    bound: int  # B

    def __post_init__(self) -> None:
        if self.k < 1 or self.k > MAX_CHUNKS:
            raise ValueError("chunk count out of range")
        if not 1 <= self.bound < 1 << 34:
            raise ValueError("norm bound B must be in [1, 2^34)")
        if 2 * self.arp_bound_message ** 2 >= self.zk.bfv.q:
            # ‖m̄‖² + ‖ā‖² ≡ B² (mod q) would no longer imply equality over Z.
            raise ValueError("norm bound B too large for this parameter set (no-wrap)")
        if max(self.z_low_bits.values()) > RICE_MAX_LOW:
            raise ValueError("mask widths beyond the response encoding")  # α·B too large
        if not self.ciphertext_binding:
            raise ValueError("statement too large for this parameter set: the ciphertext "
                             "would not bind (m, e1) in the extraction box (kernel_free_box "
                             "fails for X = 12·w·Z_m, Y = 12·w·Z_e1; proofs/security.md "
                             "§2.2); use fewer parameters")
        if self.zk.aux_counts is not None:
            for engine, need in zip(self.engines, self.product_bounds, strict=True):
                if engine.capacity <= need:
                    raise ValueError("too few auxiliary primes for the products of this "
                                     "statement")

    # -- public witness bounds β_b --------------------------------------------------
    @property
    def groups(self) -> int:
        return self.zk.bfv.groups(self.k)

    @property
    def kn(self) -> int:
        return self.k * self.zk.n

    @property
    def gn(self) -> int:
        return self.groups * self.zk.n

    @cached_property
    def beta(self) -> dict[str, float]:
        """Public bounds on ‖s_b‖ per block: ternary u (worst case), CBD errors
        (`BfvParams.error_norm_bound` with `noise_tail_sds`: an honest encryption exceeds
        them only with negligible probability), ‖m‖ ≤ B, ternary r."""
        bfv, tail = self.zk.bfv, self.zk.noise_tail_sds
        return {"m": float(self.bound), "e1": bfv.error_norm_bound(self.kn, tail),
                "u": math.sqrt(self.gn), "e2": bfv.error_norm_bound(self.gn, tail),
                "r": math.sqrt(self.zk.ell * self.zk.d)}

    @property
    def beta_noise(self) -> float:
        """Bound on ‖(u, e1, e2)‖ for the JL projection of the noise."""
        b = self.beta
        return math.sqrt(b["u"] ** 2 + b["e1"] ** 2 + b["e2"] ** 2)

    # -- Σ-protocol masks ----------------------------------------------------------------
    @property
    def block_sizes(self) -> dict[str, int]:
        return {"m": self.kn, "e1": self.kn, "u": self.gn, "e2": self.gn,
                "r": self.zk.ell * self.zk.d}

    @cached_property
    def sigma(self) -> dict[str, float]:
        # One rejection step over all blocks: σ_b = α·η·β_b·√(n_total/n_b).
        sizes = self.block_sizes
        total = sum(sizes.values())
        return {b: self.zk.alpha * self.zk.eta * self.beta[b] * math.sqrt(total / sizes[b])
                for b in sizes}

    @cached_property
    def shift_bounds(self) -> dict[str, float]:
        """Public bounds η·β_b on ‖c·s_b‖ (for every c ∈ C' and every witness within its
        public bounds β_b)."""
        return {b: self.zk.eta * v for b, v in self.beta.items()}

    @cached_property
    def z_norm_bound(self) -> dict[str, float]:
        return {b: NORM_SLACK * s * math.sqrt(self.block_sizes[b])
                for b, s in self.sigma.items()}

    @cached_property
    def z_low_bits(self) -> dict[str, int]:
        """Rice-code parameter per block (zkflpq.ring.packing.rice_low_bits)."""
        return {b: rice_low_bits(s) for b, s in self.sigma.items()}

    @cached_property
    def mask_inf_bound(self) -> dict[str, int]:
        """⌊MASK_INF_SIGMAS·σ_b⌋: the prover resamples a mask with a coefficient above it."""
        return {b: int(MASK_INF_SIGMAS * s) for b, s in self.sigma.items()}

    @cached_property
    def z_inf_bound(self) -> dict[str, int]:
        """Z_b = ⌊INF_SIGMAS·σ_b⌋, the cap on every |z_b| coefficient: the prover restarts
        above it after the rejection step, the verifier refuses above it."""
        return {b: int(INF_SIGMAS * s) for b, s in self.sigma.items()}

    @cached_property
    def factor_bound(self) -> dict[str, int]:
        """Largest |coefficient| of a short product factor, prover (masks) or verifier
        (responses)."""
        return {b: max(self.mask_inf_bound[b], self.z_inf_bound[b]) for b in self.sigma}

    @cached_property
    def z_max_high(self) -> dict[str, int]:
        """Largest unary part of the Rice code (the decoder rejects longer runs)."""
        return {b: self.z_inf_bound[b] >> self.z_low_bits[b] for b in self.sigma}

    def z_fits(self, block: str, z: np.ndarray) -> bool:
        # min/max rather than abs: |INT64_MIN| wraps to a negative int64.
        cap = self.z_inf_bound[block]
        return bool(z.size == 0 or (-cap <= z.min() and z.max() <= cap))

    def z_expected_bits(self, block: str) -> float:
        """Expected Rice-coded bits per coefficient for a Gaussian of width σ_b."""
        sigma, low = self.sigma[block], self.z_low_bits[block]
        step = 1 << low
        tail = sum(math.erfc(h * step / (sigma * math.sqrt(2)))
                   for h in range(1, self.z_max_high[block] + 1))
        return 2 + low + tail

    # -- ciphertext binding (proofs/security.md §2.2) -------------------------------------
    @cached_property
    def binding_box(self) -> tuple[int, int]:
        """(X, Y): per-coefficient bounds on (x_m, x_e1) of the kernel vector
        x = (c2 − c1)·z3 − (c3 − c1)·z2 + (c3 − c2)·z1 of three accepting transcripts,
        12·w·Z_b (three terms, ‖c − c'‖_1 ≤ 4w, |z_b| ≤ Z_b)."""
        f = 12 * self.zk.challenge_weight
        return f * self.z_inf_bound["m"], f * self.z_inf_bound["e1"]

    @property
    def ciphertext_binding(self) -> bool:
        """Whether three accepting transcripts are explained by one witness (the (m, e1)
        part of proofs/security.md §2.2): `kernel_free_box` for this statement's box."""
        x, y = self.binding_box
        return kernel_free_box(self.zk.bfv.q, self.zk.bfv.t, x, y)

    # -- exact products ------------------------------------------------------------------
    @cached_property
    def product_bounds(self) -> tuple[int, int, int]:
        """Largest |coefficient| of the integer products of prover and verifier, for the
        three engines (R_N; R_d; R_d with two uniform factors). Every short factor is
        bounded by factor_bound (responses are checked against z_inf_bound before any
        product; the prover resamples masks above mask_inf_bound), uniform factors are
        centred lifts |x| ≤ q/2·(1 + 2^-39) (proofs/security.md, "exact products")."""
        zk, zi = self.zk, self.factor_bound
        half_q = zk.bfv.q // 2 + (zk.bfv.q >> 39) + 1
        n, d = zk.n, zk.d
        # R_N: b_j·z_u and a·z_u (one product per output polynomial).
        ring_n = n * half_q * zi["u"]
        short = max(zi["m"], zi["e1"], zi["u"], zi["e2"])
        blocks = (2 * self.k + 2 * self.groups) * zk.views  # m views, then u, e1, e2 views
        ring_d = max(
            zk.ell * d * half_q * zi["r"],  # A0·z_r, <b_x, z_r>
            blocks * d * (JL_ROWS << 32) * short,  # Σ_b α_b·z_b, |α| < 2^40
            2 * self.kn * zi["m"] * max(zi["m"], self.bound),  # Σ σ(z_Q)·z_Q, cross terms
        )
        squares = max(d * half_q * half_q,  # σ(z_a)·z_a
                      (d + JL_ROWS * 2) * (JL_ROWS << 32) * half_q)  # α_a·z_a, σ(γ)·z_jl
        return ring_n, ring_d, squares

    @cached_property
    def engines(self) -> tuple[ExactProducts, ExactProducts, ExactProducts]:
        zk = self.zk
        degrees = (zk.n, zk.d, zk.d)
        if zk.aux_counts is None:
            return tuple(exact_products(deg, b) for deg, b in  # type: ignore[return-value]
                         zip(degrees, self.product_bounds, strict=True))
        return tuple(ExactProducts(deg, ntt_primes(deg, AUX_PRIME_BITS, c))  # type: ignore
                     for deg, c in zip(degrees, zk.aux_counts, strict=True))

    # -- JL ------------------------------------------------------------------------------
    @property
    def jl_shift_bounds(self) -> dict[str, float]:
        return {"m": GHL_JL_FACTOR * self.beta["m"], "e": GHL_JL_FACTOR * self.beta_noise}

    @cached_property
    def jl_sigma(self) -> dict[str, float]:
        # Two blocks of 256 normalised together: factor √2.
        return {b: self.zk.alpha_jl * t * math.sqrt(2) for b, t in self.jl_shift_bounds.items()}

    @cached_property
    def jl_norm_bound(self) -> dict[str, float]:
        return {b: JL_NORM_SLACK * s * math.sqrt(JL_ROWS) for b, s in self.jl_sigma.items()}

    @cached_property
    def jl_width(self) -> dict[str, int]:
        return {b: math.ceil(math.log2(INF_SIGMAS * s + 1)) + 1 for b, s in self.jl_sigma.items()}

    # -- what soundness gives ------------------------------------------------------------
    @property
    def arp_bound_message(self) -> float:
        """B_arp for (m, a): what the approximate range proof guarantees."""
        return self.jl_norm_bound["m"] / JL_SOUND_FACTOR

    @property
    def arp_bound_noise(self) -> float:
        return self.jl_norm_bound["e"] / JL_SOUND_FACTOR

    @cached_property
    def max_clients(self) -> int:
        """K_max: the largest number of proven updates of this size whose sum always
        decrypts (proofs/security.md §2.8). Chunk j of the sum has noise
        V = Σ_clients (e1 − e_j·u + s_j·e2), ‖V‖∞ ≤ K·B_arp_noise·(1 + ‖e_j‖ + ‖s_j‖) with
        ‖e_j‖ ≤ error_norm_bound(N) (A-key) and ‖s_j‖ ≤ √N; rounding is exact iff
        t·‖V‖∞ + (q mod t)·K·B < q/2, and the plaintext does not wrap iff K·B < t/2."""
        bfv = self.zk.bfv
        q, t = bfv.q, bfv.t
        per_client = self.arp_bound_noise * (1 + bfv.error_norm_bound(bfv.n) + math.sqrt(bfv.n))
        k_noise = (q // 2 - 1) // math.ceil(t * per_client + (q % t) * self.bound)
        return int(min(bfv.max_clients(self.bound), k_noise))


def kernel_free_box(q: int, t: int, x_max: int, y_max: int) -> bool:
    """A sufficient condition for: the only integers |x| ≤ x_max, |y| ≤ y_max with
    Δ·x + y ≡ 0 (mod q), Δ = ⌊q/t⌋, are x = y = 0 (proofs/security.md §2.2). From
    Δ·x + y = n·q and q = Δ·t + r (r = q mod t): Δ·(x − n·t) = n·r − y with |n| ≤ ⌊x_max/t⌋ + 1,
    so (C1) (⌊x_max/t⌋ + 1)·r + y_max < Δ forces x = n·t, y = n·r, and (C2) y_max < r
    forces n = 0. C2 is also necessary once x_max ≥ t: (t, r) itself is a solution."""
    r, delta = q % t, q // t
    return y_max < r and (x_max // t + 1) * r + y_max < delta


_CACHE: dict[str, ZkParams] = {}


def zk_params_for(bfv: BfvParams) -> ZkParams:
    """The proof parameters used with a BFV preset (one fixed choice per preset).

    INSECURE_* sets (tests only) use the subring of degree 64 (N = 256: four subring
    components per chunk, the layout of the default set; N = 64: the whole ring) and
    MLWE rank 2.
    """
    zk = _CACHE.get(bfv.name)
    if zk is None or zk.bfv != bfv:
        zk = (ZkParams(bfv, subring_degree=min(64, bfv.n), mlwe_rank=2) if bfv.insecure
              else ZkParams(bfv))
        _CACHE[bfv.name] = zk
    return zk
