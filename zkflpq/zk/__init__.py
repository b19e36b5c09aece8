"""Zero-knowledge proof that BFV ciphertexts encrypt an update of L2 norm ≤ B.

LNP22-style commit-and-prove, version 3 (proofs/protocol.md, proofs/security.md): the
multi-message BFV ciphertext is the Ajtai commitment to (u, e1, e2, m), a JL projection
rules out wrap-around, and an exact quadratic relation proves ‖m‖² + ‖a‖² = B² with a
four-square completion a. One Σ-repetition over the subring R_d: q's primes are ≡ 5 mod 8,
so challenge differences are units.
"""

from .api import CONTEXT_VERSION, encrypt_and_prove, proof_context
from .challenge import Challenge
from .errors import NormBoundExceeded, ProofDecodeError, ProvingFailed, ZkError
from .params import ProofBounds, ZkParams, zk_params_for
from .proof import NormProof, proof_size
from .protocol import PROTOCOL_ID, NormStatement, Verdict, decode_proof, prove, verify

__all__ = [
    "CONTEXT_VERSION",
    "PROTOCOL_ID",
    "Challenge",
    "NormBoundExceeded",
    "NormProof",
    "NormStatement",
    "ProofBounds",
    "ProofDecodeError",
    "ProvingFailed",
    "Verdict",
    "ZkError",
    "ZkParams",
    "decode_proof",
    "encrypt_and_prove",
    "proof_context",
    "proof_size",
    "prove",
    "verify",
    "zk_params_for",
]
