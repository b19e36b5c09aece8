"""BFV parameter sets: frozen, validated, with documented presets.

Preset choices (checked by proofs/params_check.py; proofs/protocol.md §1–2):
- N = 4096 and q = three 27-bit primes p ≡ 5 (mod 8) (log2 q ≈ 81): X^N + 1 splits
  into only two factors mod each p, so every non-zero y with ‖y‖∞ < √(p/2) is a unit
  (Lyubashevsky–Seiler 2018) and one Σ-repetition of the norm proof is sound. q stays
  under the HomomorphicEncryption.org bound for 128-bit security with a ternary secret
  (log2 q ≤ 109 at N = 4096) and is as small as the decryption of a sum of
  K_max ≥ 1000 proven updates allows. Products mod q go through auxiliary NTT primes
  (zkflpq.ring.exact).
- L' = 8 key components: a group of up to 8 chunks shares one (u, e2) and one c1, so a
  ciphertext costs (1 + 1/L')·log2 q bits per coefficient instead of 2·log2 q.
- t = 2^34: a power of two so that the aggregate of up to K_max clients with
  ‖m_i‖_∞ ≤ B decodes without wrap-around while K_max·B < t/2. Its size is set by the
  proof, not by the plaintexts: the ciphertext binds (m, e1) only up to the short kernel
  vectors k·(t, q mod t), and extraction excludes them only while q mod t exceeds the
  extraction box of e1 (proofs/security.md §2.2). For these primes q mod 2^34 ≈ 2^33.5,
  so a proof may cover 608 chunks (2.49M parameters); with t = 2^32 (q mod t ≈ 2^31.75)
  it could cover only 49. Δ = 2^47 still leaves K_max ≥ 1000 clients at τ = 5 for every
  statement the proof accepts.
- Errors: centred binomial with η = 21 (σ = √10.5 ≈ 3.24 ≥ 3.2, the width the
  HE standard's table assumes).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from ..ring.primes import is_prime, split_count

__all__ = [
    "BfvParams",
    "DEFAULT",
    "INSECURE_N64",
    "INSECURE_N256",
    "PRESETS",
    "HE_STANDARD_MAX_LOGQ_128",
    "get_params",
]

# HomomorphicEncryption.org security standard (2018), Table 1, ternary secret,
# 128-bit classical security: largest log2 q per ring degree.
HE_STANDARD_MAX_LOGQ_128 = {1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881}


@dataclass(frozen=True)
class BfvParams:
    """One BFV parameter set. `name` is the public parameter-set id."""

    name: str
    n: int
    primes: tuple[int, ...]
    t: int
    components: int = 8  # L': chunks per ciphertext group = public-key components b_j
    error_eta: int = 21
    insecure: bool = False
    id_bytes: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name or len(self.name.encode()) > 64:
            raise ValueError("name must be 1..64 bytes")
        if self.n < 16 or self.n & (self.n - 1):
            raise ValueError("n must be a power of two ≥ 16")
        if not self.primes or len(set(self.primes)) != len(self.primes):
            raise ValueError("primes must be distinct and non-empty")
        for p in self.primes:
            if not (p < 1 << 31 and is_prime(p) and p % 8 == 5):
                raise ValueError(f"{p} is not a prime p ≡ 5 (mod 8) below 2^31")
            if split_count(p, self.n) != 2:  # implied by p ≡ 5 (mod 8); checked anyway
                raise ValueError(f"X^N + 1 does not split into two factors mod {p}")
        if not 1 <= self.components <= 64:
            raise ValueError("components must be 1..64")
        if self.t < 2 or self.t & (self.t - 1) or self.t * max(self.primes) >= 1 << 63:
            # Decryption computes y_i·t with y_i < p_i in int64 (scheme._round_t_over_q).
            raise ValueError("t must be a power of two ≥ 2 with t·p < 2^63 for every prime p")
        if self.t >= self.q:
            raise ValueError("t must be smaller than q")
        if not 1 <= self.error_eta <= 32:
            raise ValueError("error_eta must be 1..32")
        if not self.insecure and self.estimated_security_bits() < 128:
            raise ValueError("a non-INSECURE parameter set must reach 128-bit security")
        digest = hashlib.sha3_256(
            b"zkflpq-bfv-params-v3|" + repr(
                (self.name, self.n, self.primes, self.t, self.components,
                 self.error_eta)).encode()
        ).digest()
        object.__setattr__(self, "id_bytes", digest[:16])

    @property
    def q(self) -> int:
        return math.prod(self.primes)

    @property
    def log2_q(self) -> float:
        return math.log2(self.q)

    @property
    def delta(self) -> int:
        """Δ = floor(q / t)."""
        return self.q // self.t

    @property
    def error_sigma(self) -> float:
        return math.sqrt(self.error_eta / 2)

    def error_norm_bound(self, count: int, tail_sds: float = 12.0) -> float:
        """Public bound on ‖e‖_2 for `count` CBD_η coefficients: E‖e‖² = (η/2)·count plus
        `tail_sds` standard deviations of ‖e‖² (Var e² ≤ 2·(η/2)² + η/8 per coefficient,
        measured 215 for η = 21). With count = N this is assumption A-key of
        proofs/security.md §2.8 (≈ 233 for the default set)."""
        eta = self.error_eta
        var = 2 * (eta / 2) ** 2 + eta / 8
        return math.sqrt(eta / 2 * count + tail_sds * math.sqrt(var * count))

    def he_standard_ok(self) -> bool:
        """HomomorphicEncryption.org table check (128-bit, ternary secret)."""
        bound = HE_STANDARD_MAX_LOGQ_128.get(self.n)
        return bound is not None and self.log2_q <= bound and self.error_sigma >= 3.19

    def estimated_security_bits(self) -> float:
        """Rough classical security: 128 · (N / log2 q) / (N_ref / logq_ref), scaled from the
        HE-standard table row for this N (security grows about linearly in N / log q)."""
        table = HE_STANDARD_MAX_LOGQ_128.get(self.n)
        # No table row: scale the N = 4096 row linearly in N.
        ref = float(table) if table is not None else 109 * self.n / 4096
        if self.error_sigma < 3.19:
            return 0.0
        return 128.0 * ref / self.log2_q

    @property
    def split_factors(self) -> int:
        """l: the number of irreducible factors of X^N + 1 mod each prime (2 here)."""
        return max(split_count(p, self.n) for p in self.primes)

    def groups(self, k: int) -> int:
        """Ciphertext groups for k chunks: ⌈k / L'⌉ (the last one may be partial)."""
        return -(-k // self.components)

    def max_clients(self, bound_inf: int) -> int:
        """Largest K with K·bound_inf < t/2: sums of K plaintexts with ‖m‖_∞ ≤ bound_inf decode."""
        return max(0, (self.t // 2 - 1) // max(1, bound_inf))


# Prime literals checked against their generator by the tests (splitting_primes).
DEFAULT = BfvParams(
    name="zkflpq-bfv3-n4096-q81-t34-l8",
    n=4096,
    primes=(134217613, 134217541, 134217509),
    t=1 << 34,
)

# Small rings for fast tests only: far below 128-bit security.
INSECURE_N256 = BfvParams(
    name="INSECURE-bfv3-n256-q81-t34-l4",
    n=256,
    primes=(134217613, 134217541, 134217509),
    t=1 << 34,
    components=4,
    insecure=True,
)
INSECURE_N64 = BfvParams(
    name="INSECURE-bfv3-n64-q81-t34-l3",
    n=64,
    primes=(134217613, 134217541, 134217509),
    t=1 << 34,
    components=3,
    insecure=True,
)

PRESETS: dict[str, BfvParams] = {p.name: p for p in (DEFAULT, INSECURE_N256, INSECURE_N64)}


def get_params(name: str) -> BfvParams:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown parameter set {name!r}") from None
