"""ML-DSA-65 signatures (FIPS 204) via the OpenSSL-backed ``cryptography`` implementation.

Encodings (FIPS 204): signing key = the 32-byte seed ξ of ML-DSA.KeyGen
(Algorithm 1; the expanded 4032-byte key is never stored), verification key =
1952 bytes (``pkEncode``), signature = 3309 bytes (``sigEncode``).
Signing is the "pure" ML-DSA.Sign (Algorithm 2) with an optional context
string of at most 255 bytes (FIPS 204 §5.2) used for domain separation.
"""

from __future__ import annotations

import enum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa as _mldsa

from ._util import as_bytes, sha3_256
from .errors import DecodeError, KeyLengthError, SignatureError

__all__ = [
    "MAX_CONTEXT_SIZE",
    "PRIVATE_KEY_SIZE",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "SigAlgorithm",
    "SigningKey",
    "VerifyKey",
]

PRIVATE_KEY_SIZE = 32
PUBLIC_KEY_SIZE = 1952
SIGNATURE_SIZE = 3309
MAX_CONTEXT_SIZE = 255


class SigAlgorithm(enum.IntEnum):
    """Signature algorithms; the integer value is the one-byte wire identifier."""

    MLDSA65 = 1

    @classmethod
    def from_id(cls, alg_id: int) -> SigAlgorithm:
        try:
            return cls(alg_id)
        except ValueError:
            raise DecodeError(f"unknown signature algorithm id {alg_id}") from None

    @property
    def label(self) -> str:
        return "ML-DSA-65"


def _context(context: bytes) -> bytes:
    context = as_bytes(context, "context")
    if len(context) > MAX_CONTEXT_SIZE:
        raise ValueError(f"ML-DSA context must be at most {MAX_CONTEXT_SIZE} bytes")
    return context


class VerifyKey:
    """An ML-DSA-65 verification (public) key."""

    __slots__ = ("_key",)

    algorithm = SigAlgorithm.MLDSA65

    def __init__(self, key: _mldsa.MLDSA65PublicKey) -> None:
        self._key = key

    @classmethod
    def from_bytes(cls, data: bytes) -> VerifyKey:
        """Decode a 1952-byte verification key; :class:`KeyLengthError` (a
        :class:`DecodeError` and a ``ValueError``) for any other length."""
        data = as_bytes(data, "verify key")
        if len(data) != PUBLIC_KEY_SIZE:
            raise KeyLengthError(f"ML-DSA-65 public key must be {PUBLIC_KEY_SIZE} bytes",
                                 expected=PUBLIC_KEY_SIZE, actual=len(data))
        try:
            return cls(_mldsa.MLDSA65PublicKey.from_public_bytes(data))
        except ValueError as exc:  # pragma: no cover - every 1952-byte string decodes
            raise DecodeError("invalid ML-DSA-65 public key") from exc

    def to_bytes(self) -> bytes:
        return self._key.public_bytes_raw()

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        """ML-DSA.Verify (FIPS 204 Algorithm 3); raises :class:`SignatureError` on failure.

        A signature of the wrong length, or any type other than bytes-like,
        is simply an invalid signature.
        """
        context = _context(context)
        message = as_bytes(message, "message")
        if not isinstance(signature, (bytes, bytearray, memoryview)):
            raise SignatureError("signature must be bytes")
        signature = bytes(signature)
        if len(signature) != SIGNATURE_SIZE:
            raise SignatureError("signature has the wrong length")
        try:
            self._key.verify(signature, message, context)
        except (InvalidSignature, ValueError):
            raise SignatureError("ML-DSA-65 signature verification failed") from None

    def fingerprint(self) -> str:
        """Hex SHA3-256 of the raw verification key."""
        return sha3_256(self.to_bytes()).hex()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"VerifyKey(ML-DSA-65, {self.fingerprint()[:16]}…)"


class SigningKey:
    """An ML-DSA-65 signing (private) key, held in seed form."""

    __slots__ = ("_key", "_verify_key")

    algorithm = SigAlgorithm.MLDSA65

    def __init__(self, key: _mldsa.MLDSA65PrivateKey) -> None:
        self._key = key
        self._verify_key = VerifyKey(key.public_key())

    @classmethod
    def generate(cls) -> SigningKey:
        """ML-DSA.KeyGen (FIPS 204 Algorithm 1), randomness from OpenSSL's CSPRNG."""
        return cls(_mldsa.MLDSA65PrivateKey.generate())

    @classmethod
    def from_bytes(cls, data: bytes) -> SigningKey:
        """ML-DSA.KeyGen_internal (FIPS 204 Algorithm 6) from the 32-byte seed ξ."""
        data = as_bytes(data, "signing key")
        if len(data) != PRIVATE_KEY_SIZE:
            raise KeyLengthError(f"ML-DSA-65 seed must be {PRIVATE_KEY_SIZE} bytes",
                                 expected=PRIVATE_KEY_SIZE, actual=len(data))
        try:
            return cls(_mldsa.MLDSA65PrivateKey.from_seed_bytes(data))
        except ValueError as exc:  # pragma: no cover - length is checked above
            raise DecodeError("invalid ML-DSA-65 seed") from exc

    def to_bytes(self) -> bytes:
        """The 32-byte seed ξ.  Secret: store only via :mod:`zkflpq.pq.keyfile`."""
        return self._key.private_bytes_raw()

    def verify_key(self) -> VerifyKey:
        return self._verify_key

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        """ML-DSA.Sign (FIPS 204 Algorithm 2, hedged); returns a 3309-byte signature."""
        return self._key.sign(as_bytes(message, "message"), _context(context))

    def __repr__(self) -> str:
        return f"SigningKey(ML-DSA-65, public={self._verify_key.fingerprint()[:16]}…)"
