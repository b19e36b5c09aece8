"""Proof-system parameters (spec §7) and the per-statement bounds derived from them.

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
from ..ring.packing import RICE_MAX_LOW, rice_low_bits
from .challenge import challenge_space_bits, challenge_weight, opnorm_bound
from .jl import JL_ROWS

__all__ = ["ZkParams", "ProofBounds", "zk_params_for", "GHL_JL_FACTOR", "JL_SOUND_FACTOR"]

SECURITY_BITS = 128
TAIL_R = math.sqrt(2 * (SECURITY_BITS + 1) * math.log(2))  # ≈ 13.37
GHL_JL_FACTOR = math.sqrt(337)  # ‖Π·w‖ ≤ √337·‖w‖ except w.p. < 2^-128 (GHL22)
# What the JL responses guarantee about the committed (m, a), (u, e1, e2): B_arp = T_jl/1.8088.
# The published modular JL lemma (√26) is for Π·w; the verifier sees ȳ + Π·w with a committed,
# unbounded ȳ, and the reduction in proofs/security.md (Lemma S) gives 2/√13.087 instead.
JL_SOUND_FACTOR = math.sqrt(13.087) / 2
NORM_SLACK = 1.3  # ‖z_b‖ ≤ 1.3·σ_b·√n_b for the main blocks (Banaszczyk tail)
JL_NORM_SLACK = 1.5  # for the 256-entry JL responses
INF_SIGMAS = 8  # honest |z| ≤ 8σ per coefficient; fixes the encoding width


@dataclass(frozen=True)
class ZkParams:
    """Parameters of the norm proof on top of one BFV parameter set."""

    bfv: BfvParams
    rho: int = 5  # repetitions of the random-linear-combination step
    # Parallel Σ-protocol repetitions (independent challenges) and the proof-of-work bits
    # on the challenge query: R_q splits completely mod each p_i, so a cheater who guesses
    # every challenge in one NTT slot wins with ≈ (2.5/p_min)^R = 2^-28.68·R per query
    # (proofs/security.md F1, §4.3); grinding makes each query cost 2^g hash calls, i.e. a
    # per-hash error of 2^-(28.68·R + g): R = 4, g = 16 gives 2^-130.7 (2^-128.6 with the
    # other terms), where R = 5 without grinding cost 25 % more responses (§4.4).
    # 2^16 SHAKE calls take ≈ 45 ms per Σ-attempt.
    reps: int = 4
    grinding_bits: int = 16
    kappa: int = 1  # rows of A0 = [I_κ | A0']
    mlwe_rank: int = 2  # ℓ − κ − #messages: MLWE rank for hiding (rank 1 is ≈ 122 bits core-SVP)
    # α trades size for proving time: one rejection step covers all R repetitions and
    # restarts the whole Σ-step with probability 1 − 1/M, and an attempt is most of the
    # prover's cost. α = 48 (M ≈ 1.32) costs 2 bits more per response coefficient than
    # α = 12 (M ≈ 3.06), about +7 % proof bytes, for about half the mean proving time.
    alpha: float = 48.0  # Σ-protocol mask slack (M ≈ 1.32)
    alpha_jl: float = 60.0  # JL mask slack (M ≈ 1.25)
    noise_tail_sds: float = 12.0  # public bound on ‖e‖²: mean + 12 standard deviations

    def __post_init__(self) -> None:
        if not (1 <= self.rho <= 16 and 1 <= self.reps <= 16 and 1 <= self.kappa <= 4
                and 1 <= self.mlwe_rank <= 4 and 0 <= self.grinding_bits <= 24):
            raise ValueError("invalid rho/reps/kappa/mlwe_rank/grinding_bits")
        if self.alpha < 2 or self.alpha_jl < 2:
            raise ValueError("alpha too small")

    @property
    def n(self) -> int:
        return self.bfv.n

    @cached_property
    def challenge_weight(self) -> int:
        return challenge_weight(self.n, SECURITY_BITS)

    @cached_property
    def challenge_bits(self) -> float:
        return challenge_space_bits(self.n, self.challenge_weight)

    @property
    def eta(self) -> float:
        """‖c‖_op bound of the challenge set, so ‖c·s‖ ≤ η·‖s‖ for every s."""
        return opnorm_bound(self.n, self.challenge_weight)

    @property
    def jl_polys(self) -> int:
        """Polynomials holding the 512 JL mask integers (one when N ≥ 512)."""
        return -(-2 * JL_ROWS // self.n)

    @property
    def messages(self) -> int:
        """BDLOP message polynomials: jl masks, a, g_1..g_ρ, and G1_{i,r} for every
        repetition i and relation r."""
        return self.jl_polys + 1 + self.rho + self.reps * self.rho

    @property
    def ell(self) -> int:
        """Length of the BDLOP randomness r ∈ R^ℓ (ternary). Hiding needs the commitment
        matrix [A0; b_1..b_n] ((κ + n) × ℓ) to leave an MLWE secret of rank ≥ 1:
        ℓ = κ + #messages + mlwe_rank (BDLOP18 §4; proofs/security.md F2)."""
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

    def rows_G1_rep(self, i: int) -> slice:
        """The G1 commitment rows of Σ-repetition i."""
        start = self.jl_polys + 1 + self.rho + i * self.rho
        return slice(start, start + self.rho)

    @property
    def rows_sent(self) -> slice:
        """Messages committed in the first round: jl, a, g (t_G1 come later)."""
        return slice(0, self.jl_polys + 1 + self.rho)

    @staticmethod
    def repetition_rate(alpha: float) -> float:
        return math.exp(TAIL_R / alpha + 1 / (2 * alpha * alpha))

    def bounds(self, k: int, bound: int) -> ProofBounds:
        return ProofBounds(self, k, bound)


@dataclass(frozen=True)
class ProofBounds:
    """Everything that depends on the statement's size: k chunks and the norm bound B."""

    zk: ZkParams
    k: int
    bound: int  # B

    def __post_init__(self) -> None:
        if self.k < 1 or self.k > 1 << 16:
            raise ValueError("chunk count out of range")
        if not 1 <= self.bound < 1 << 34:
            raise ValueError("norm bound B must be in [1, 2^34)")
        if 2 * self.arp_bound_message ** 2 >= self.zk.bfv.q:
            # ‖m̄‖² + ‖ā‖² ≡ B² (mod q) would no longer imply equality over Z (spec §6).
            raise ValueError("norm bound B too large for this parameter set (no-wrap)")
        if max(self.z_low_bits.values()) > RICE_MAX_LOW:
            raise ValueError("mask widths beyond the response encoding")  # α·B too large

    # -- public witness bounds β_b --------------------------------------------------
    @property
    def kn(self) -> int:
        return self.k * self.zk.n

    @property
    def beta_u(self) -> float:
        return math.sqrt(self.kn)  # ternary: worst case

    @property
    def beta_e(self) -> float:
        """Public bound on ‖e1‖, ‖e2‖ for CBD_η errors over all k chunks
        (`BfvParams.error_norm_bound` with `noise_tail_sds`): an honest encryption exceeds
        it only with negligible probability, also for the small rings of the tests."""
        return self.zk.bfv.error_norm_bound(self.kn, self.zk.noise_tail_sds)

    @property
    def beta_m(self) -> float:
        return float(self.bound)

    @property
    def beta_r(self) -> float:
        return math.sqrt(self.zk.ell * self.zk.n)

    @property
    def beta_noise(self) -> float:
        """Bound on ‖(u, e1, e2)‖ for the JL projection of the noise."""
        return math.sqrt(self.beta_u ** 2 + 2 * self.beta_e ** 2)

    # -- Σ-protocol masks ----------------------------------------------------------------
    @property
    def block_sizes(self) -> dict[str, int]:
        return {"u": self.kn, "e1": self.kn, "e2": self.kn, "m": self.kn,
                "r": self.zk.ell * self.zk.n}

    @cached_property
    def sigma(self) -> dict[str, float]:
        # One rejection step over all repetitions' blocks together: the shift
        # (c_1·s, ..., c_R·s) has R·n_total coordinates, hence the factor √(R·n_total/n_b).
        sizes = self.block_sizes
        total = self.zk.reps * sum(sizes.values())
        beta = {"u": self.beta_u, "e1": self.beta_e, "e2": self.beta_e, "m": self.beta_m,
                "r": self.beta_r}
        return {b: self.zk.alpha * self.zk.eta * beta[b] * math.sqrt(total / sizes[b])
                for b in sizes}

    @cached_property
    def shift_bounds(self) -> dict[str, float]:
        """Public bounds η·β_b on ‖c·s_b‖ (hold for every c ∈ C' and every witness
        within its public bounds β_b)."""
        beta = {"u": self.beta_u, "e1": self.beta_e, "e2": self.beta_e, "m": self.beta_m,
                "r": self.beta_r}
        return {b: self.zk.eta * beta[b] for b in beta}

    @cached_property
    def z_norm_bound(self) -> dict[str, float]:
        """Bound on ‖z_b‖ over all repetitions together (R·n_b coordinates)."""
        return {b: NORM_SLACK * s * math.sqrt(self.zk.reps * self.block_sizes[b])
                for b, s in self.sigma.items()}

    @cached_property
    def z_low_bits(self) -> dict[str, int]:
        """Rice-code parameter per block (zkflpq.ring.packing.rice_low_bits)."""
        return {b: rice_low_bits(s) for b, s in self.sigma.items()}

    @cached_property
    def z_max_high(self) -> dict[str, int]:
        """Largest unary part: |z| ≤ INF_SIGMAS·σ per coefficient (honest prover restarts
        above it; the decoder rejects longer runs)."""
        return {b: (int(INF_SIGMAS * s) >> self.z_low_bits[b]) + 1 for b, s in self.sigma.items()}

    def z_fits(self, block: str, z: np.ndarray) -> bool:
        return bool(z.size == 0 or (np.abs(z).max() >> self.z_low_bits[block])
                    <= self.z_max_high[block])

    def z_expected_bits(self, block: str) -> float:
        """Expected Rice-coded bits per coefficient for a Gaussian of width σ_b."""
        sigma, low = self.sigma[block], self.z_low_bits[block]
        step = 1 << low
        tail = sum(math.erfc(h * step / (sigma * math.sqrt(2)))
                   for h in range(1, self.z_max_high[block] + 1))
        return 2 + low + tail

    # -- JL ------------------------------------------------------------------------------
    @property
    def jl_shift_bounds(self) -> dict[str, float]:
        return {"m": GHL_JL_FACTOR * self.beta_m, "e": GHL_JL_FACTOR * self.beta_noise}

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
        """B_arp for (m, a): what the approximate range proof guarantees (spec §6)."""
        return self.jl_norm_bound["m"] / JL_SOUND_FACTOR

    @property
    def arp_bound_noise(self) -> float:
        return self.jl_norm_bound["e"] / JL_SOUND_FACTOR


_CACHE: dict[str, ZkParams] = {}


def zk_params_for(bfv: BfvParams) -> ZkParams:
    """The proof parameters used with a BFV preset (one fixed choice per preset).

    INSECURE_* sets (tests only) run 2 Σ-repetitions instead of 4 and 4 grinding bits
    instead of 16: still the multi-repetition and proof-of-work code paths, at a fraction
    of the cost.
    """
    zk = _CACHE.get(bfv.name)
    if zk is None or zk.bfv != bfv:
        zk = ZkParams(bfv, reps=2, grinding_bits=4) if bfv.insecure else ZkParams(bfv)
        _CACHE[bfv.name] = zk
    return zk
