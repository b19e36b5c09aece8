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
        R = self.ring
        acc = R.mul_ntt(self.a0_ntt, r_ntt[None, self.kappa:]).sum(axis=1) % R.p
        return R.add(R.intt(acc), R.intt(r_ntt[: self.kappa]))

    def inner_ntt(self, rows: slice | list[int], r_ntt: np.ndarray) -> np.ndarray:
        """<b_j, r> for the selected message rows, in the NTT domain: (rows, L, N)."""
        R = self.ring
        return R.mul_ntt(self.b_ntt[rows], r_ntt[None]).sum(axis=1) % R.p

    def a0_times_ntt(self, r_ntt: np.ndarray) -> np.ndarray:
        """A0·r in the NTT domain: (κ, L, N)."""
        R = self.ring
        acc = R.mul_ntt(self.a0_ntt, r_ntt[None, self.kappa:]).sum(axis=1) % R.p
        return R.add(acc, r_ntt[: self.kappa])


_KEYS: dict[str, CommitmentKey] = {}


def commitment_key(zk: ZkParams) -> CommitmentKey:
    cached = _KEYS.get(zk.bfv.name)
    if cached is not None and cached.b_ntt.shape[0] == zk.messages:
        return cached
    R = ring_of(zk.bfv)
    rng = Csprng.from_seed(zk.bfv.id_bytes + bytes([zk.rho, zk.kappa, zk.ell]), b"zkflpq-bdlop-ck")
    a0 = uniform_mod(rng, zk.bfv.primes, (zk.kappa, zk.ell - zk.kappa, zk.n))
    b = uniform_mod(rng, zk.bfv.primes, (zk.messages, zk.ell, zk.n))
    key = CommitmentKey(R, zk.kappa, R.ntt(a0), R.ntt(b))
    _KEYS[zk.bfv.name] = key
    return key
