"""BDLOP commitments (Baum–Damgård–Lyubashevsky–Oechsner–Peikert 2018) in R_q.

t0 = A0·r with A0 = [I_κ | A0'], and t_j = <b_j, r> + msg_j, r ∈ R^ℓ ternary.
The public A0', b_j are expanded (SHAKE-keyed AES-CTR) from the parameter-set id,
so every party derives the same commitment key. Everything is kept in NTT form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bfv.scheme import ring_of
from ..ring import Csprng, RingContext, uniform_mod
from ..ring.ntt import multiply_accumulate
from .params import ZkParams

__all__ = ["CommitmentKey", "commitment_key"]


@dataclass(frozen=True, eq=False)
class CommitmentKey:
    ring: RingContext
    kappa: int
    a0_ntt: np.ndarray  # (κ, ℓ−κ, L, N): the A0' part
    b_ntt: np.ndarray  # (messages, ℓ, L, N)

    def commit_t0(self, r_ntt: np.ndarray) -> np.ndarray:
        """A0·r (NTT domain in → coefficient domain out), r_ntt (ℓ, L, N)."""
        return self.ring.intt(self.a0_times_ntt(r_ntt))

    def inner_ntt(self, rows: slice, r_ntt: np.ndarray) -> np.ndarray:
        """<b_j, r> for the selected message rows, in the NTT domain: (rows, L, N)."""
        R = self.ring
        return multiply_accumulate(self.b_ntt[rows], r_ntt, R.tables)

    def a0_times_ntt(self, r_ntt: np.ndarray) -> np.ndarray:
        """A0·r in the NTT domain: (κ, L, N)."""
        R = self.ring
        acc = multiply_accumulate(self.a0_ntt, r_ntt[self.kappa:], R.tables)
        return R.add(acc, r_ntt[: self.kappa])


_KEYS: dict[str, CommitmentKey] = {}


def commitment_key(zk: ZkParams) -> CommitmentKey:
    cached = _KEYS.get(zk.bfv.name)
    if cached is not None and cached.b_ntt.shape[:2] == (zk.messages, zk.ell):
        return cached
    R = ring_of(zk.bfv)
    rng = Csprng.from_seed(zk.bfv.id_bytes + bytes([zk.rho, zk.reps, zk.kappa, zk.ell]),
                           b"zkflpq-bdlop-ck")
    a0 = uniform_mod(rng, zk.bfv.primes, (zk.kappa, zk.ell - zk.kappa, zk.n))
    b = uniform_mod(rng, zk.bfv.primes, (zk.messages, zk.ell, zk.n))
    # uint32 storage (residues < 2^31): the key has (#messages × ℓ) polynomials.
    key = CommitmentKey(R, zk.kappa, R.ntt(a0).astype(np.uint32), R.ntt(b).astype(np.uint32))
    _KEYS[zk.bfv.name] = key
    return key
