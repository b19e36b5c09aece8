"""Primes below 2^31 (a product of two fits in 64 bits): NTT-friendly ones, p ≡ 1 (mod 2N),
for the auxiliary product moduli, and partially splitting ones, p ≡ 2l + 1 (mod 4l), for
the BFV modulus (X^N + 1 has only l factors, so short elements are units)."""

from __future__ import annotations

import functools
import math

__all__ = ["is_prime", "multiplicative_order", "ntt_primes", "primitive_2n_root",
           "split_count", "splitting_primes"]

# Deterministic Miller-Rabin witnesses for every n < 3.3e24 (covers all 64-bit n).
_MR_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def is_prime(n: int) -> bool:
    """Deterministic primality test for n < 3.3e24."""
    if n < 2:
        return False
    for p in _MR_WITNESSES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in _MR_WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@functools.lru_cache(maxsize=256)
def ntt_primes(n: int, bits: int, count: int, exclude: tuple[int, ...] = ()) -> tuple[int, ...]:
    """The `count` largest primes p < 2^bits with p ≡ 1 (mod 2n), descending.

    bits is in [12, 31]; n a power of two. Deterministic, so parameter sets can
    check their prime literals against it.
    """
    if not 12 <= bits <= 31:
        raise ValueError("prime size must be 12..31 bits")
    if n < 2 or n & (n - 1):
        raise ValueError("n must be a power of two")
    step = 2 * n
    p = ((1 << bits) - 1) // step * step + 1
    if p >= 1 << bits:
        p -= step
    found: list[int] = []
    while len(found) < count and p > step:
        if p not in exclude and is_prime(p):
            found.append(p)
        p -= step
    if len(found) < count:
        raise ValueError("not enough NTT-friendly primes of that size")
    return tuple(found)


def _factorize(n: int) -> list[int]:
    out, f = [], 2
    while f * f <= n:
        if n % f == 0:
            out.append(f)
            while n % f == 0:
                n //= f
        f += 1 if f == 2 else 2
    if n > 1:
        out.append(n)
    return out


def primitive_2n_root(p: int, n: int) -> int:
    """Smallest-generator-derived ψ with ψ^n ≡ −1 (mod p), i.e. a primitive 2n-th root."""
    if (p - 1) % (2 * n):
        raise ValueError("p is not 1 mod 2n")
    factors = _factorize(p - 1)
    for g in range(2, p):
        if all(pow(g, (p - 1) // f, p) != 1 for f in factors):
            psi = pow(g, (p - 1) // (2 * n), p)
            assert pow(psi, n, p) == p - 1
            return psi
    raise ValueError("no generator found")  # unreachable for prime p


def multiplicative_order(a: int, m: int) -> int:
    """Order of a in (Z/mZ)^* (a coprime to m; m a power of two here, so this is cheap)."""
    if math.gcd(a, m) != 1:
        raise ValueError("a is not a unit mod m")
    order, x = 1, a % m
    while x != 1 % m:
        x = x * a % m
        order += 1
    return order


def split_count(p: int, n: int) -> int:
    """Number of irreducible factors of X^n + 1 modulo an odd prime p: n / ord_{2n}(p)
    (the roots are the primitive 2n-th roots of unity, permuted in orbits by Frobenius)."""
    return n // multiplicative_order(p % (2 * n), 2 * n)


def splitting_primes(n: int, bits: int, count: int, factors: int = 2) -> tuple[int, ...]:
    """The `count` largest primes p < 2^bits with p ≡ 2l + 1 (mod 4l), l = `factors`,
    descending: X^n + 1 then splits into exactly l irreducible factors X^{n/l} − r mod p
    (Lyubashevsky–Seiler, EUROCRYPT 2018, Cor. 1.2), so a non-zero y with
    ‖y‖∞ < p^{1/l}/√l is a unit. bits in [12, 31]; 2 ≤ l ≤ n, both powers of two.
    """
    if not 12 <= bits <= 31:
        raise ValueError("prime size must be 12..31 bits")
    if n < 2 or n & (n - 1) or factors < 2 or factors & (factors - 1) or factors > n:
        raise ValueError("n and the factor count must be powers of two with 2 ≤ l ≤ n")
    step = 4 * factors
    p = ((1 << bits) - 1 - (2 * factors + 1)) // step * step + 2 * factors + 1
    found: list[int] = []
    while len(found) < count and p > step:
        if is_prime(p):
            found.append(p)
        p -= step
    if len(found) < count:
        raise ValueError("not enough primes of that size")
    return tuple(found)
