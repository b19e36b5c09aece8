"""Plain-Python "naive twins" of the numba ring kernels (Python ints, no numpy tricks)."""

from __future__ import annotations


def negacyclic_mul(a: list[int], b: list[int], p: int | None = None) -> list[int]:
    """Schoolbook product in Z[X]/(X^n + 1) (mod p if given)."""
    n = len(a)
    out = [0] * n
    for i in range(n):
        ai = int(a[i])
        if ai == 0:
            continue
        for j in range(n):
            k = i + j
            if k < n:
                out[k] += ai * int(b[j])
            else:
                out[k - n] -= ai * int(b[j])
    return [x % p for x in out] if p is not None else out


def crt(residues: list[int], primes: list[int]) -> int:
    """Garner-style incremental CRT, centred in (−q/2, q/2]."""
    x, m = 0, 1
    for r, p in zip(residues, primes, strict=True):
        # x ≡ previous residues mod m; pick x' = x + m·k ≡ r (mod p).
        k = ((int(r) - x) * pow(m, -1, p)) % p
        x += m * k
        m *= p
    return x - m if x > m // 2 else x


def automorphism(a: list[int], k: int, p: int | None = None) -> list[int]:
    """Σ a_i X^i ↦ Σ a_i X^{i·k} in Z[X]/(X^n + 1), straight from the definition."""
    n = len(a)
    out = [0] * n
    for i, ai in enumerate(a):
        e = (i * k) % (2 * n)  # X^n = −1, so X^{2n} = 1
        if e < n:
            out[e] += int(ai)
        else:
            out[e - n] -= int(ai)
    return [x % p for x in out] if p is not None else out


def is_prime_trial(n: int) -> bool:
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def rice_decode(data: bytes, low: int, max_high: int, count: int) -> list[int] | str:
    """Bit-by-bit Rice decoder (sign, `low` bits, unary high part); an error name instead
    of a list for non-canonical input, with the same names as zkflpq.ring.rice_decode."""
    bits = [(byte >> i) & 1 for byte in data for i in range(8)]
    pos, out = 0, []
    for _ in range(count):
        if pos + 1 + low > len(bits):
            return "truncated"
        sign = bits[pos]
        a = sum(bits[pos + 1 + b] << b for b in range(low))
        pos += 1 + low
        high = 0
        while True:
            if pos >= len(bits):
                return "truncated"
            pos += 1
            if bits[pos - 1]:
                break
            high += 1
            if high > max_high:
                return "value too large"
        a |= high << low
        if sign and a == 0:
            return "negative zero"
        out.append(-a if sign else a)
    if len(bits) - pos >= 8:
        return "trailing bytes"
    if any(bits[pos:]):
        return "non-zero padding"
    return out
