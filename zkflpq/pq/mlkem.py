"""ML-KEM-768 (FIPS 203) via the OpenSSL-backed ``cryptography`` implementation.

Only a thin, typed wrapper: key generation, encapsulation and decapsulation are
delegated to :mod:`cryptography.hazmat.primitives.asymmetric.mlkem`.

Encodings (FIPS 203):

* decapsulation (private) key: the 64-byte seed ``d || z`` (FIPS 203 §7.1,
  Algorithm 16 inputs).  The 2400-byte expanded key is never stored: the seed
  form is shorter and cannot be inconsistent.
* encapsulation (public) key: 1184 bytes (``ByteEncode12(t̂) || ρ``).
* ciphertext: 1088 bytes; shared secret: 32 bytes.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import mlkem as _mlkem

from ._util import as_bytes
from .errors import DecodeError, KeyLengthError

__all__ = [
    "CIPHERTEXT_SIZE",
    "PRIVATE_KEY_SIZE",
    "PUBLIC_KEY_SIZE",
    "SHARED_SECRET_SIZE",
    "MLKEM768PrivateKey",
    "MLKEM768PublicKey",
]

PRIVATE_KEY_SIZE = 64
PUBLIC_KEY_SIZE = 1184
CIPHERTEXT_SIZE = 1088
SHARED_SECRET_SIZE = 32


class MLKEM768PublicKey:
    """An ML-KEM-768 encapsulation key."""

    __slots__ = ("_key",)

    def __init__(self, key: _mlkem.MLKEM768PublicKey) -> None:
        self._key = key

    @classmethod
    def from_bytes(cls, data: bytes) -> MLKEM768PublicKey:
        """Decode a 1184-byte encapsulation key.

        cryptography performs the FIPS 203 §7.2 type and modulus checks here,
        so a key that decodes can always be encapsulated to.
        """
        data = as_bytes(data, "public key")
        if len(data) != PUBLIC_KEY_SIZE:
            raise KeyLengthError(f"ML-KEM-768 public key must be {PUBLIC_KEY_SIZE} bytes",
                                 expected=PUBLIC_KEY_SIZE, actual=len(data))
        try:
            return cls(_mlkem.MLKEM768PublicKey.from_public_bytes(data))
        except ValueError as exc:
            raise DecodeError("invalid ML-KEM-768 public key (modulus check)") from exc

    def to_bytes(self) -> bytes:
        return self._key.public_bytes_raw()

    def encapsulate(self) -> tuple[bytes, bytes]:
        """ML-KEM.Encaps (FIPS 203 Algorithm 20): return ``(shared_secret, ciphertext)``."""
        shared_secret, ciphertext = self._key.encapsulate()
        return shared_secret, ciphertext


class MLKEM768PrivateKey:
    """An ML-KEM-768 decapsulation key, held in seed form."""

    __slots__ = ("_key",)

    def __init__(self, key: _mlkem.MLKEM768PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> MLKEM768PrivateKey:
        """ML-KEM.KeyGen (FIPS 203 Algorithm 19), randomness from OpenSSL's CSPRNG."""
        return cls(_mlkem.MLKEM768PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> MLKEM768PrivateKey:
        """Deterministic ML-KEM.KeyGen_internal(d, z) from the 64-byte seed ``d || z``."""
        seed = as_bytes(seed, "seed")
        if len(seed) != PRIVATE_KEY_SIZE:
            raise KeyLengthError(f"ML-KEM-768 seed must be {PRIVATE_KEY_SIZE} bytes",
                                 expected=PRIVATE_KEY_SIZE, actual=len(seed))
        try:
            return cls(_mlkem.MLKEM768PrivateKey.from_seed_bytes(seed))
        except ValueError as exc:  # pragma: no cover - length is checked above
            raise DecodeError("invalid ML-KEM-768 seed") from exc

    from_bytes = from_seed

    def to_bytes(self) -> bytes:
        """The 64-byte seed ``d || z``."""
        return self._key.private_bytes_raw()

    def public_key(self) -> MLKEM768PublicKey:
        return MLKEM768PublicKey(self._key.public_key())

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """ML-KEM.Decaps (FIPS 203 Algorithm 21).

        Invalid ciphertexts of the right length do not raise: FIPS 203 uses
        implicit rejection and returns a pseudorandom secret instead.
        """
        ciphertext = as_bytes(ciphertext, "ciphertext")
        if len(ciphertext) != CIPHERTEXT_SIZE:
            raise DecodeError(f"ML-KEM-768 ciphertext must be {CIPHERTEXT_SIZE} bytes")
        try:
            return self._key.decapsulate(ciphertext)
        except ValueError as exc:  # pragma: no cover - length is checked above
            raise DecodeError("invalid ML-KEM-768 ciphertext") from exc
