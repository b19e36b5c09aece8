"""Ring layer: partially splitting and NTT-friendly primes, RNS, negacyclic NTT, exact
products through auxiliary NTT primes (`exact`), automorphisms, samplers, worker threads.

Everything above (BFV, the norm proof) works on arrays of shape (..., L, N):
one row of residues per prime of q = p_1···p_L.
"""

from .ntt import NttTables, ntt_forward, ntt_inverse, pointwise_mul
from .packing import pack_uint, packed_size, unpack_uint
from .poly import RingContext, automorphism_int, mul_sparse_ternary_int, sigma_int
from .primes import is_prime, ntt_primes, primitive_2n_root
from .rns import RnsBasis
from .sampling import (
    Csprng,
    centered_binomial,
    discrete_gaussian,
    ternary,
    uniform_mod,
)
from .threads import worker_threads

__all__ = [
    "Csprng",
    "NttTables",
    "RingContext",
    "RnsBasis",
    "automorphism_int",
    "centered_binomial",
    "discrete_gaussian",
    "is_prime",
    "mul_sparse_ternary_int",
    "ntt_forward",
    "ntt_inverse",
    "ntt_primes",
    "pack_uint",
    "packed_size",
    "unpack_uint",
    "pointwise_mul",
    "primitive_2n_root",
    "sigma_int",
    "ternary",
    "uniform_mod",
    "worker_threads",
]
