"""Four-square completion: a ∈ Z^4 with ‖a‖² = n (Lagrange), for B² − ‖m‖² (spec §4 step 0).

Rabin–Shallit style: pick random x, y until n − x² − y² is a prime p ≡ 1 (mod 4)
(or 0, 1, 2, or twice such a prime), then split p = c² + d² with Cornacchia.
Randomness from the caller's CSPRNG (the decomposition is committed, never revealed), so
a proof is a deterministic function of its Csprng — whatever the thread count.
"""

from __future__ import annotations

import math

from ..ring import Csprng
from ..ring.primes import is_prime

__all__ = ["four_squares", "two_squares_prime"]


def _sqrt_minus_one(p: int) -> int:
    # For p ≡ 1 (mod 4) and a non-residue g, g^((p−1)/4) is a square root of −1.
    for g in range(2, p):
        if pow(g, (p - 1) // 2, p) == p - 1:
            return pow(g, (p - 1) // 4, p)
    raise ValueError("no non-residue")  # unreachable for odd prime p


def two_squares_prime(p: int) -> tuple[int, int]:
    """(c, d) with c² + d² = p for a prime p ≡ 1 (mod 4) or p = 2 (Cornacchia)."""
    if p == 2:
        return 1, 1
    r = _sqrt_minus_one(p)
    a, b = p, r
    limit = math.isqrt(p)
    while b > limit:
        a, b = b, a % b
    c = b
    d = math.isqrt(p - c * c)
    if c * c + d * d != p:
        raise ValueError("p is not a sum of two squares")
    return c, d


def _two_squares(n: int) -> tuple[int, int] | None:
    """(c, d) with c² + d² = n if n ∈ {0, 1} or n (or n/2) is a prime ≡ 1 mod 4; else None."""
    if n in (0, 1):
        return n, 0
    if n % 2 == 0 and n // 2 >= 2:
        half = n // 2
        if half == 2 or (half % 4 == 1 and is_prime(half)):
            c, d = two_squares_prime(half)
            return c + d, abs(c - d)  # 2(c² + d²) = (c+d)² + (c−d)²
    if n == 2 or (n % 4 == 1 and is_prime(n)):
        return two_squares_prime(n)
    return None


def _below(rng: Csprng, bound: int) -> int:
    """Uniform integer in [0, bound) by rejection on whole bytes."""
    size = max(1, (bound.bit_length() + 7) // 8)
    mask = (1 << bound.bit_length()) - 1
    while True:
        v = int.from_bytes(rng.random_bytes(size), "little") & mask
        if v < bound:
            return v


def four_squares(n: int, rng: Csprng | None = None) -> tuple[int, int, int, int]:
    """Integers (a0..a3) with a0² + a1² + a2² + a3² = n ≥ 0 (random search from `rng`,
    a fresh CSPRNG if None)."""
    if n < 0:
        raise ValueError("n must be non-negative")
    if n and n % 4 == 0:
        # A sum of four squares ≡ 0 mod 4 has all terms even or all odd; halving a
        # representation of n/4 avoids a random search that rarely succeeds here.
        return tuple(2 * x for x in four_squares(n // 4, rng))  # type: ignore[return-value]
    if n < 64:  # small cases: exhaustive, keeps the random search away from tiny ranges
        r = math.isqrt(n)
        for x in range(r + 1):
            for y in range(x, r + 1):
                for z in range(y, r + 1):
                    w2 = n - x * x - y * y - z * z
                    if w2 < 0:
                        break
                    w = math.isqrt(w2)
                    if w * w == w2:
                        return x, y, z, w
    rng = rng or Csprng()
    root = math.isqrt(n)
    while True:
        x = _below(rng, root + 1)
        rem_x = n - x * x
        y = _below(rng, math.isqrt(rem_x) + 1)
        split = _two_squares(rem_x - y * y)
        if split is not None:
            return x, y, split[0], split[1]
