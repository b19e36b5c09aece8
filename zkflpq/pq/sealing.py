"""HPKE-style single-shot sealing to a static KEM key, with an exported response key.

Construction (modelled on RFC 9180 base mode, "Auth: none"):

1. ``ss, enc = Encap(pk_R)`` with X-Wing or ML-KEM-768 (:mod:`zkflpq.pq.kem`).
2. ``ksc = SHA3-256(lp(PROTOCOL_LABEL) || kem_id || lp(enc) || lp(pk_R) || lp(context))``
   — the key-schedule context (cf. RFC 9180 §5.1 ``key_schedule_context``).
   Binding ``enc`` and ``pk_R`` matters for ML-KEM-768 alone, which is not
   MAL-BIND-K-CT / K-PK (X-Wing is, draft §6.1); binding ``context`` makes a
   request sealed for one method/path/sender/timestamp unusable for another.
3. For each output, ``HKDF-SHA256(ikm=ss, salt=PROTOCOL_LABEL, info=lp(label) || ksc)``
   (RFC 5869) with distinct labels: request key (32), request nonce (12),
   response key (32).
4. AES-256-GCM.  The associated data is every wire byte that precedes the
   ciphertext, followed by ``context``.

Nonces: the request key is derived from a fresh encapsulation and encrypts
exactly one message, so a derived nonce can never repeat under it (as in HPKE
single-shot mode) and saves 12 wire bytes.  The response key may be used for
more than one response (retries), so responses carry a fresh random 96-bit
nonce instead; with a handful of messages per key the collision probability
is negligible (NIST SP 800-38D §8.2.2).

Wire formats (all integers big-endian)::

    request  = "ZKPQ" | 0x01 version | 0x01 type | kem_id(1) | enc(Nenc)
               | ct_len(u32) | ciphertext||tag(ct_len)
    response = "ZKPQ" | 0x01 version | 0x02 type | kem_id(1) | nonce(12)
               | ct_len(u32) | ciphertext||tag(ct_len)

``Nenc`` is fixed by ``kem_id`` (X-Wing 1120, ML-KEM-768 1088); ``ct_len`` is
plaintext length + 16 and the message must end exactly after it, so truncation
and padding are detected before any cryptography runs.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._util import as_bytes, lp, sha3_256, u32
from .errors import DecodeError, SealError
from .kem import KemAlgorithm, KemPrivateKey, KemPublicKey

__all__ = [
    "MAGIC",
    "MAX_PLAINTEXT_SIZE",
    "PROTOCOL_LABEL",
    "VERSION",
    "ResponseKey",
    "open_sealed",
    "request_context",
    "seal",
]

MAGIC = b"ZKPQ"
VERSION = 1
PROTOCOL_LABEL = b"zkflpq/pq/seal/v1"
# cryptography's AESGCM accepts at most 2**31 - 1 bytes of input.
MAX_PLAINTEXT_SIZE = 2**31 - 1

_TYPE_REQUEST = 0x01
_TYPE_RESPONSE = 0x02
_TAG_SIZE = 16
_NONCE_SIZE = 12
_KEY_SIZE = 32
_HEADER_SIZE = len(MAGIC) + 3
_LEN_SIZE = 4

_LABEL_REQUEST_KEY = b"request key"
_LABEL_REQUEST_NONCE = b"request nonce"
_LABEL_RESPONSE_KEY = b"response key"

_CONTEXT_LABEL = b"zkflpq/pq/request-context/v1"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def request_context(
    method: str, path: str, sender_id: str, timestamp: int, protocol_version: str
) -> bytes:
    """Canonical context bytes binding an aggregation-service request.

    Encoding: ``lp(label) || lp(method) || lp(path) || lp(sender_id) ||
    int64(timestamp) || lp(protocol_version)`` with UTF-8 strings and u32
    length prefixes, so no two distinct tuples encode to the same bytes.
    Values are taken verbatim (no case folding or path normalisation): the
    caller must pass the same canonical strings on both sides.
    """
    fields = []
    for name, value in (
        ("method", method),
        ("path", path),
        ("sender_id", sender_id),
        ("protocol_version", protocol_version),
    ):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be str")
        try:
            fields.append(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ValueError(f"{name} is not encodable as UTF-8") from exc
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("timestamp must be int")
    if not _INT64_MIN <= timestamp <= _INT64_MAX:
        raise ValueError("timestamp does not fit in a signed 64-bit integer")
    m, p, s, v = fields
    return lp(_CONTEXT_LABEL) + lp(m) + lp(p) + lp(s) + struct.pack(">q", timestamp) + lp(v)


def _key_schedule(
    alg: KemAlgorithm, shared_secret: bytes, enc: bytes, recipient_pk: bytes, context: bytes
) -> tuple[bytes, bytes, bytes]:
    ksc = sha3_256(lp(PROTOCOL_LABEL) + bytes([alg]) + lp(enc) + lp(recipient_pk) + lp(context))

    def expand(label: bytes, length: int) -> bytes:
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=length, salt=PROTOCOL_LABEL, info=lp(label) + ksc
        )
        return hkdf.derive(shared_secret)

    return (
        expand(_LABEL_REQUEST_KEY, _KEY_SIZE),
        expand(_LABEL_REQUEST_NONCE, _NONCE_SIZE),
        expand(_LABEL_RESPONSE_KEY, _KEY_SIZE),
    )


def _header(msg_type: int, alg: KemAlgorithm) -> bytes:
    return MAGIC + bytes([VERSION, msg_type, alg])


def _check_plaintext(plaintext: bytes) -> bytes:
    plaintext = as_bytes(plaintext, "plaintext")
    if len(plaintext) > MAX_PLAINTEXT_SIZE:
        raise ValueError(f"plaintext longer than {MAX_PLAINTEXT_SIZE} bytes")
    return plaintext


def _parse(
    sealed: bytes, msg_type: int, middle_size_for: Mapping[KemAlgorithm, int]
) -> tuple[KemAlgorithm, bytes, bytes, bytes]:
    """Strictly split a sealed message into (alg, prefix, middle, ciphertext).

    ``prefix`` is every byte before the ciphertext (used as AAD), ``middle``
    the encapsulation (requests) or the nonce (responses).
    """
    if not isinstance(sealed, (bytes, bytearray, memoryview)):
        raise DecodeError("sealed message must be bytes")
    sealed = bytes(sealed)
    if len(sealed) < _HEADER_SIZE:
        raise DecodeError("sealed message truncated (header)")
    if sealed[: len(MAGIC)] != MAGIC:
        raise DecodeError("not a zkflpq sealed message (bad magic)")
    version, got_type, alg_id = sealed[len(MAGIC) : _HEADER_SIZE]
    if version != VERSION:
        raise DecodeError(f"unsupported sealed-message version {version}")
    if got_type != msg_type:
        raise DecodeError(
            "expected a sealed request"
            if msg_type == _TYPE_REQUEST
            else "expected a sealed response"
        )
    alg = KemAlgorithm.from_id(alg_id)
    middle_size = middle_size_for[alg]
    len_at = _HEADER_SIZE + middle_size
    ct_at = len_at + _LEN_SIZE
    if len(sealed) < ct_at:
        raise DecodeError("sealed message truncated")
    (ct_len,) = struct.unpack(">I", sealed[len_at:ct_at])
    if ct_len < _TAG_SIZE or ct_len - _TAG_SIZE > MAX_PLAINTEXT_SIZE:
        raise DecodeError("invalid ciphertext length")
    if len(sealed) != ct_at + ct_len:
        raise DecodeError("sealed message length does not match its length field")
    return alg, sealed[:ct_at], sealed[_HEADER_SIZE:len_at], sealed[ct_at:]


class ResponseKey:
    """Key exported from a sealed request for the receiver's response.

    Both sides obtain the same key: the sender from :func:`seal`, the receiver
    from :func:`open_sealed`.  It only ever protects ``type = response``
    messages, under a key no request uses, so requests and responses cannot be
    confused.  May be used for several responses (each gets a random nonce).
    """

    __slots__ = ("_aead", "_alg")

    def __init__(self, key: bytes, algorithm: KemAlgorithm) -> None:
        self._aead = AESGCM(key)
        self._alg = algorithm

    @property
    def algorithm(self) -> KemAlgorithm:
        return self._alg

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """Encrypt a response; ``context`` is authenticated, not transmitted."""
        plaintext = _check_plaintext(plaintext)
        context = as_bytes(context, "context")
        nonce = os.urandom(_NONCE_SIZE)
        prefix = _header(_TYPE_RESPONSE, self._alg) + nonce + u32(len(plaintext) + _TAG_SIZE)
        return prefix + self._aead.encrypt(nonce, plaintext, prefix + context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        """Decrypt a response; :class:`DecodeError` if malformed, :class:`SealError` if forged."""
        context = as_bytes(context, "context")
        alg, prefix, nonce, ciphertext = _parse(sealed, _TYPE_RESPONSE, _NONCE_SIZES)
        if alg != self._alg:
            raise DecodeError("response KEM algorithm does not match the request")
        try:
            return self._aead.decrypt(nonce, ciphertext, prefix + context)
        except InvalidTag:
            raise SealError("response failed authentication") from None

    def __repr__(self) -> str:
        return f"ResponseKey({self._alg.label})"


_ENC_SIZES = {alg: alg.encapsulation_size for alg in KemAlgorithm}
_NONCE_SIZES = {alg: _NONCE_SIZE for alg in KemAlgorithm}


def seal(recipient: KemPublicKey, plaintext: bytes, context: bytes) -> tuple[bytes, ResponseKey]:
    """Encrypt ``plaintext`` to ``recipient``, bound to ``context``.

    Returns the wire message and the :class:`ResponseKey` for opening the reply.
    ``context`` is authenticated but not transmitted; the receiver must supply
    the same bytes (e.g. from :func:`request_context`).
    """
    if not isinstance(recipient, KemPublicKey):
        raise TypeError("recipient must be a KemPublicKey")
    plaintext = _check_plaintext(plaintext)
    context = as_bytes(context, "context")
    alg = recipient.algorithm
    shared_secret, enc = recipient.encapsulate()
    key, nonce, response_key = _key_schedule(alg, shared_secret, enc, recipient.to_bytes(), context)
    prefix = _header(_TYPE_REQUEST, alg) + enc + u32(len(plaintext) + _TAG_SIZE)
    sealed = prefix + AESGCM(key).encrypt(nonce, plaintext, prefix + context)
    return sealed, ResponseKey(response_key, alg)


def open_sealed(
    recipient: KemPrivateKey, sealed: bytes, context: bytes
) -> tuple[bytes, ResponseKey]:
    """Decrypt a sealed request; returns ``(plaintext, response_key)``.

    Raises :class:`DecodeError` for malformed input or a KEM algorithm other
    than ``recipient``'s, :class:`SealError` if authentication fails (wrong
    key, wrong context, any modified byte).
    """
    if not isinstance(recipient, KemPrivateKey):
        raise TypeError("recipient must be a KemPrivateKey")
    context = as_bytes(context, "context")
    alg, prefix, enc, ciphertext = _parse(sealed, _TYPE_REQUEST, _ENC_SIZES)
    if alg != recipient.algorithm:
        raise DecodeError(f"message is for {alg.label}, key is {recipient.algorithm.label}")
    shared_secret = recipient.decapsulate(enc)
    key, nonce, response_key = _key_schedule(
        alg, shared_secret, enc, recipient.public_key().to_bytes(), context
    )
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, prefix + context)
    except InvalidTag:
        raise SealError("sealed message failed authentication") from None
    return plaintext, ResponseKey(response_key, alg)
