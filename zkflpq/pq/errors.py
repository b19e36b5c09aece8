"""Typed exceptions for :mod:`zkflpq.pq`.

Every failure a decoder, an opener or a verifier can hit on untrusted input
surfaces as a subclass of :class:`PqError`, so callers can catch one type and
never see a raw ``ValueError``/``struct.error`` from a parsing detail.
Invalid *arguments* supplied by the programmer (wrong Python type, oversized
context string) still raise ``TypeError``/``ValueError`` as usual.
"""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "KeyFilePermissionError",
    "PqError",
    "SealError",
    "SignatureError",
]


class PqError(Exception):
    """Base class of all errors raised by :mod:`zkflpq.pq`."""


class DecodeError(PqError):
    """Malformed, truncated, padded, wrong-version or wrong-algorithm encoding."""


class SealError(PqError):
    """A sealed message failed authentication (wrong key, context or tampered data)."""


class SignatureError(PqError):
    """An ML-DSA signature did not verify."""


class KeyFilePermissionError(PqError):
    """A private key file is readable or writable by group/others."""
