"""Algorithm-agile KEM interface over X-Wing (default) and ML-KEM-768.

The algorithm is never guessed from key lengths: callers name it (or a key
file / sealed-message header carries its id), and decoding checks the length
that algorithm requires.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

from . import mlkem, xwing
from ._util import sha3_256
from .errors import DecodeError

__all__ = [
    "KemAlgorithm",
    "KemPrivateKey",
    "KemPublicKey",
    "encapsulate",
]


class KemAlgorithm(enum.IntEnum):
    """KEM algorithms; the integer value is the one-byte wire identifier."""

    XWING = 1
    MLKEM768 = 2

    @classmethod
    def from_id(cls, alg_id: int) -> KemAlgorithm:
        """Map a wire identifier to an algorithm, raising :class:`DecodeError` if unknown."""
        try:
            return cls(alg_id)
        except ValueError:
            raise DecodeError(f"unknown KEM algorithm id {alg_id}") from None

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def private_key_size(self) -> int:
        return _SIZES[self][0]

    @property
    def public_key_size(self) -> int:
        return _SIZES[self][1]

    @property
    def encapsulation_size(self) -> int:
        return _SIZES[self][2]


class _PublicImpl(Protocol):
    def to_bytes(self) -> bytes: ...
    def encapsulate(self) -> tuple[bytes, bytes]: ...


class _PrivateImpl(Protocol):
    def to_bytes(self) -> bytes: ...
    def public_key(self) -> _PublicImpl: ...
    def decapsulate(self, ciphertext: bytes) -> bytes: ...


_LABELS = {KemAlgorithm.XWING: "X-Wing", KemAlgorithm.MLKEM768: "ML-KEM-768"}

# (private key, public key, encapsulation) sizes in bytes
_SIZES: dict[KemAlgorithm, tuple[int, int, int]] = {
    KemAlgorithm.XWING: (xwing.PRIVATE_KEY_SIZE, xwing.PUBLIC_KEY_SIZE, xwing.CIPHERTEXT_SIZE),
    KemAlgorithm.MLKEM768: (mlkem.PRIVATE_KEY_SIZE, mlkem.PUBLIC_KEY_SIZE, mlkem.CIPHERTEXT_SIZE),
}
_GENERATE: dict[KemAlgorithm, Callable[[], _PrivateImpl]] = {
    KemAlgorithm.XWING: xwing.XWingPrivateKey.generate,
    KemAlgorithm.MLKEM768: mlkem.MLKEM768PrivateKey.generate,
}
_PRIVATE_FROM_BYTES: dict[KemAlgorithm, Callable[[bytes], _PrivateImpl]] = {
    KemAlgorithm.XWING: xwing.XWingPrivateKey.from_bytes,
    KemAlgorithm.MLKEM768: mlkem.MLKEM768PrivateKey.from_bytes,
}
_PUBLIC_FROM_BYTES: dict[KemAlgorithm, Callable[[bytes], _PublicImpl]] = {
    KemAlgorithm.XWING: xwing.XWingPublicKey.from_bytes,
    KemAlgorithm.MLKEM768: mlkem.MLKEM768PublicKey.from_bytes,
}


def _check_alg(algorithm: object) -> KemAlgorithm:
    if not isinstance(algorithm, KemAlgorithm):
        raise TypeError("algorithm must be a KemAlgorithm")
    return algorithm


class KemPublicKey:
    """A KEM encapsulation (public) key of a known algorithm."""

    __slots__ = ("_alg", "_impl")

    def __init__(self, algorithm: KemAlgorithm, impl: _PublicImpl) -> None:
        self._alg = algorithm
        self._impl = impl

    @property
    def algorithm(self) -> KemAlgorithm:
        return self._alg

    @classmethod
    def from_bytes(cls, algorithm: KemAlgorithm, data: bytes) -> KemPublicKey:
        """Decode a raw public key of ``algorithm``; :class:`DecodeError` if invalid."""
        alg = _check_alg(algorithm)
        return cls(alg, _PUBLIC_FROM_BYTES[alg](data))

    def to_bytes(self) -> bytes:
        """Raw public key (no algorithm tag)."""
        return self._impl.to_bytes()

    def encapsulate(self) -> tuple[bytes, bytes]:
        """Return ``(shared_secret (32 bytes), encapsulation)``."""
        return self._impl.encapsulate()

    def fingerprint(self) -> str:
        """Hex SHA3-256 of the raw public key."""
        return sha3_256(self.to_bytes()).hex()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KemPublicKey):
            return NotImplemented
        return self._alg == other._alg and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash((self._alg, self.to_bytes()))

    def __repr__(self) -> str:
        return f"KemPublicKey({self._alg.label}, {self.fingerprint()[:16]}…)"


class KemPrivateKey:
    """A KEM decapsulation (private) key of a known algorithm."""

    __slots__ = ("_alg", "_impl", "_public")

    def __init__(self, algorithm: KemAlgorithm, impl: _PrivateImpl) -> None:
        self._alg = algorithm
        self._impl = impl
        self._public = KemPublicKey(algorithm, impl.public_key())

    @property
    def algorithm(self) -> KemAlgorithm:
        return self._alg

    @classmethod
    def generate(cls, algorithm: KemAlgorithm = KemAlgorithm.XWING) -> KemPrivateKey:
        """Generate a fresh key pair (X-Wing unless told otherwise)."""
        alg = _check_alg(algorithm)
        return cls(alg, _GENERATE[alg]())

    @classmethod
    def from_bytes(cls, algorithm: KemAlgorithm, data: bytes) -> KemPrivateKey:
        """Decode a raw private key (the seed) of ``algorithm``; :class:`DecodeError` if invalid.

        X-Wing: 32-byte seed (draft §5.1).  ML-KEM-768: 64-byte ``d || z`` (FIPS 203 §7.1).
        """
        alg = _check_alg(algorithm)
        return cls(alg, _PRIVATE_FROM_BYTES[alg](data))

    def to_bytes(self) -> bytes:
        """Raw private key (the seed).  Secret: store only via :mod:`zkflpq.pq.keyfile`."""
        return self._impl.to_bytes()

    def public_key(self) -> KemPublicKey:
        return self._public

    def decapsulate(self, encapsulation: bytes) -> bytes:
        """Recover the 32-byte shared secret.

        A wrong-length encapsulation raises :class:`DecodeError`; a well-sized but
        forged one yields an unrelated pseudorandom secret (implicit rejection).
        """
        return self._impl.decapsulate(encapsulation)

    def __repr__(self) -> str:
        # Never print key material.
        return f"KemPrivateKey({self._alg.label}, public={self._public.fingerprint()[:16]}…)"


def encapsulate(public_key: KemPublicKey) -> tuple[bytes, bytes]:
    """Return ``(shared_secret (32 bytes), encapsulation)`` for ``public_key``."""
    return public_key.encapsulate()
