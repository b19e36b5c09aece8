"""Key fingerprints: hex SHA3-256 (FIPS 202 §6.1) of the raw public key.

A private key's fingerprint is that of its public key, so an operator can match
a private key file to the public key distributed for it.  The raw public-key
lengths of all supported algorithms differ (X-Wing 1216, ML-KEM-768 1184,
ML-DSA-65 1952 bytes), so the raw bytes already identify the algorithm.
"""

from __future__ import annotations

from .kem import KemPrivateKey, KemPublicKey
from .sign import SigningKey, VerifyKey

__all__ = ["fingerprint"]


def fingerprint(key: KemPublicKey | KemPrivateKey | VerifyKey | SigningKey) -> str:
    """Return the 64-character hex SHA3-256 fingerprint of ``key``'s public part."""
    if isinstance(key, KemPrivateKey):
        return key.public_key().fingerprint()
    if isinstance(key, SigningKey):
        return key.verify_key().fingerprint()
    if isinstance(key, (KemPublicKey, VerifyKey)):
        return key.fingerprint()
    raise TypeError(f"cannot fingerprint {type(key).__name__}")
