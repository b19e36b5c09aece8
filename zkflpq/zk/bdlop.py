"""BDLOP commitments (Baum–Damgård–Lyubashevsky–Oechsner–Peikert 2018) in the subring R_d.

t0 = A0·r with A0 = [I_κ | A0'], and t_j = <b_j, r> + msg_j, r ∈ R_d^ℓ (ternary for
the commitment, a masked response z_r in the proof). The public A0', b_j are expanded
(SHAKE-keyed AES-CTR) from the parameter-set id, so every party derives the same key.
q is not NTT-friendly: the key is kept in the product domain of an exact-product
engine (zkflpq.ring.exact), and every result is returned as residues mod q.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ring import Csprng, RingContext, uniform_mod
from ..ring.exact import ExactProducts
from .params import ZkParams

__all__ = ["CommitmentKey", "commitment_key"]


@dataclass(frozen=True, eq=False)
class CommitmentKey:
    ring: RingContext  # R_d mod q (residue arithmetic)
    kappa: int
    a0: np.ndarray = field(repr=False)  # (κ, ℓ−κ, L, d) residues: the A0' part
    b: np.ndarray = field(repr=False)  # (messages, ℓ, L, d) residues
    _hat: dict = field(default_factory=dict, repr=False)

    def _key_hat(self, engine: ExactProducts) -> tuple[np.ndarray, np.ndarray]:
        # One product-domain copy per engine (uint32: residues < 2^31).
        got = self._hat.get(engine.aux_primes)
        if got is None:
            basis = self.ring.basis
            got = (engine.from_residues(self.a0, basis).astype(np.uint32),
                   engine.from_residues(self.b, basis).astype(np.uint32))
            self._hat[engine.aux_primes] = got
        return got

    def a0_times(self, engine: ExactProducts, r_hat: np.ndarray, r: np.ndarray) -> np.ndarray:
        """A0·r mod q (κ, L, d) from r (ℓ, d) integers and its product form r_hat."""
        a0_hat, _ = self._key_hat(engine)
        acc = engine.to_residues(engine.multiply_accumulate(a0_hat, r_hat[self.kappa:]),
                                 self.ring.basis)
        return self.ring.add(acc, self.ring.from_int(r[: self.kappa]))

    def inner(self, engine: ExactProducts, rows: slice, r_hat: np.ndarray) -> np.ndarray:
        """<b_j, r> mod q for the selected message rows: (rows, L, d)."""
        _, b_hat = self._key_hat(engine)
        return engine.to_residues(engine.multiply_accumulate(b_hat[rows], r_hat),
                                  self.ring.basis)


_KEYS: dict[tuple[str, int, int, int], CommitmentKey] = {}


def commitment_key(zk: ZkParams) -> CommitmentKey:
    tag = (zk.bfv.name, zk.d, zk.ell, zk.messages)
    cached = _KEYS.get(tag)
    if cached is not None:
        return cached
    ring = RingContext(zk.d, zk.bfv.primes)
    rng = Csprng.from_seed(zk.bfv.id_bytes + bytes([zk.rho, zk.kappa, zk.ell])
                           + zk.d.to_bytes(4, "little"), b"zkflpq-bdlop-ck-v3")
    a0 = uniform_mod(rng, zk.bfv.primes, (zk.kappa, zk.ell - zk.kappa, zk.d))
    b = uniform_mod(rng, zk.bfv.primes, (zk.messages, zk.ell, zk.d))
    key = CommitmentKey(ring, zk.kappa, a0, b)
    _KEYS[tag] = key
    return key
