"""Typed exceptions for :mod:`zkflpq.pq`.

Every failure a decoder, an opener or a verifier can hit on untrusted input
surfaces as a subclass of :class:`PqError`, so callers can catch one type and
never see a raw ``ValueError``/``struct.error`` from a parsing detail.
A key or seed of the wrong length raises :class:`KeyLengthError`, which is both a
:class:`DecodeError` and a ``ValueError`` (so ``except ValueError`` around a key
decode, the usual idiom for "bad input", catches it as well).
Invalid *arguments* supplied by the programmer (wrong Python type, oversized
context string) still raise ``TypeError``/``ValueError`` as usual.
"""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "KeyFilePermissionError",
    "KeyLengthError",
    "PqError",
    "SealError",
    "SignatureError",
]


class PqError(Exception):
    """Base class of all errors raised by :mod:`zkflpq.pq`."""


class DecodeError(PqError):
    """Malformed, truncated, padded, wrong-version or wrong-algorithm encoding."""


class KeyLengthError(DecodeError, ValueError):
    """An encoded key or seed has the wrong length for its algorithm (for example an
    ML-DSA-65 verification key that is not 1952 bytes). ``expected`` and ``actual`` are
    the two lengths in bytes."""

    def __init__(self, message: str, *, expected: int | None = None,
                 actual: int | None = None) -> None:
        super().__init__(message if actual is None else f"{message}, got {actual}")
        self.expected = expected
        self.actual = actual


class SealError(PqError):
    """A sealed message failed authentication (wrong key, context or tampered data)."""


class SignatureError(PqError):
    """An ML-DSA signature did not verify."""


class KeyFilePermissionError(PqError):
    """A private key file is readable or writable by group/others."""
