"""Post-quantum primitives for zkflpq: X-Wing / ML-KEM-768 KEMs, HPKE-style
sealing, ML-DSA-65 signatures and versioned key files.

Everything delegates to the OpenSSL-backed ``cryptography`` package; this
package only fixes algorithms, encodings and a strict wire format.  It does not
import any other part of :mod:`zkflpq`.
"""

from __future__ import annotations

from .errors import (
    DecodeError,
    KeyFilePermissionError,
    KeyLengthError,
    PqError,
    SealError,
    SignatureError,
)
from .fingerprints import fingerprint
from .kem import KemAlgorithm, KemPrivateKey, KemPublicKey, encapsulate
from .keyfile import AnyKey, KeyKind, decode_key, encode_key, load_key, save_key
from .sealing import ResponseKey, open_sealed, request_context, seal
from .sign import SigAlgorithm, SigningKey, VerifyKey

__all__ = [
    "AnyKey",
    "DecodeError",
    "KemAlgorithm",
    "KemPrivateKey",
    "KemPublicKey",
    "KeyFilePermissionError",
    "KeyKind",
    "KeyLengthError",
    "PqError",
    "ResponseKey",
    "SealError",
    "SigAlgorithm",
    "SignatureError",
    "SigningKey",
    "VerifyKey",
    "decode_key",
    "encapsulate",
    "encode_key",
    "fingerprint",
    "load_key",
    "open_sealed",
    "request_context",
    "save_key",
    "seal",
]
