"""Wire protocol v1 shared by the aggregator, the key authority and the client agent.

It lives in zkflpq (not services/) because the client agent (:mod:`zkflpq.agent`) speaks
it too, and services import zkflpq, never the reverse; nothing here imports FastAPI.

Layers of one client → aggregator request
-----------------------------------------
1. **Sealed body** (:mod:`zkflpq.pq.sealing`): ``seal(server_kem_pk, plaintext, ctx)``
   with ``ctx = request_context(method, path, sender_id, timestamp, PROTOCOL_VERSION)``.
   The sender id and timestamp travel in the headers ``X-Zkflpq-Sender`` and
   ``X-Zkflpq-Timestamp``; because they are bound into ``ctx``, changing either makes
   the AEAD fail. POST bodies carry the sealed bytes (media type
   ``application/vnd.zkflpq.sealed``); GET requests carry them base64url-encoded in the
   ``X-Zkflpq-Sealed`` header (a GET has no body). Responses are sealed with the
   exported :class:`~zkflpq.pq.ResponseKey` under the same ``ctx``.
2. **Envelope** (the sealed plaintext): a JSON metadata object plus named binary parts,
   decoded strictly by :func:`decode_envelope` (exact lengths, unique names, bounded
   sizes; :class:`EnvelopeError` and nothing else on bad input).
3. **Signatures** (ML-DSA-65, FIPS 204 with a context string per message kind):
   updates sign ``(client id, aggregator id, deployment, round id, K_min, update digest,
   timestamp, nonce)`` (:func:`update_signing_message`); other client requests sign
   ``(method, path, client id, timestamp, nonce, body digest)``
   (:func:`request_signing_message`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from zkflpq.pq import (
    KemPrivateKey,
    KemPublicKey,
    ResponseKey,
    SigningKey,
    VerifyKey,
    open_sealed,
    request_context,
    seal,
)

PROTOCOL_VERSION = "zkflpq/v1"

__all__ = [
    "CTX_BFV_KEY",
    "CTX_KA_REQUEST",
    "CTX_KA_RESULT",
    "CTX_REQUEST",
    "CTX_UPDATE",
    "ENVELOPE_MAGIC",
    "HEADER_SEALED",
    "HEADER_SENDER",
    "HEADER_TIMESTAMP",
    "MAX_META_BYTES",
    "PROTOCOL_VERSION",
    "SEALED_MEDIA_TYPE",
    "Envelope",
    "EnvelopeError",
    "b64d",
    "b64e",
    "bfv_key_message",
    "client_id_for",
    "decode_envelope",
    "decode_float_vector",
    "decode_int_vector",
    "encode_envelope",
    "encode_float_vector",
    "encode_int_vector",
    "ka_request_message",
    "ka_result_message",
    "new_nonce",
    "now",
    "open_request",
    "request_signing_message",
    "seal_request",
    "sha3",
    "submission_key",
    "update_digest",
    "update_digest_from_hashes",
    "update_signing_message",
]

SEALED_MEDIA_TYPE = "application/vnd.zkflpq.sealed"
HEADER_SENDER = "X-Zkflpq-Sender"
HEADER_TIMESTAMP = "X-Zkflpq-Timestamp"
HEADER_SEALED = "X-Zkflpq-Sealed"

# ML-DSA-65 context strings (FIPS 204 §5.2): one per message kind, so a signature
# made for one purpose never verifies for another.
CTX_UPDATE = b"zkflpq/v1/update"
CTX_REQUEST = b"zkflpq/v1/request"
CTX_KA_REQUEST = b"zkflpq/v1/ka-decryption-request"
CTX_KA_RESULT = b"zkflpq/v1/ka-decryption-result"
CTX_BFV_KEY = b"zkflpq/v1/bfv-public-key"

ENVELOPE_MAGIC = b"ZKFE"
ENVELOPE_VERSION = 1
MAX_META_BYTES = 8 * 1024 * 1024
MAX_PARTS = 4096
_ENV_HEADER = struct.Struct(">4sBI")  # magic, version, meta length
_PART_COUNT = struct.Struct(">H")
_PART_LEN = struct.Struct(">Q")


class EnvelopeError(ValueError):
    """A sealed plaintext that is not a canonical v1 envelope."""


@dataclass(frozen=True)
class Envelope:
    meta: dict[str, Any]
    parts: dict[str, bytes]

    def part(self, name: str) -> bytes:
        try:
            return self.parts[name]
        except KeyError:
            raise EnvelopeError(f"missing part {name!r}") from None


# -- small helpers ---------------------------------------------------------------------
def now() -> int:
    return int(time.time())


def new_nonce() -> str:
    return os.urandom(16).hex()


def sha3(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def b64d(text: str, *, max_len: int | None = None) -> bytes:
    """Strict base64url (padding required, alphabet checked); ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("expected a base64url string")
    if max_len is not None and len(text) > 4 * (max_len // 3 + 1):
        raise ValueError("base64 value too long")
    try:
        raw = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("invalid base64url") from None
    if b64e(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def client_id_for(verify_key: VerifyKey) -> str:
    """Deterministic client id from the ML-DSA public key (same at every service)."""
    return "client-" + verify_key.fingerprint()[:20]


# -- envelope --------------------------------------------------------------------------
def encode_envelope(meta: Mapping[str, Any], parts: Mapping[str, bytes] | None = None) -> bytes:
    meta_bytes = json.dumps(dict(meta), separators=(",", ":"), sort_keys=True).encode("utf-8")
    if len(meta_bytes) > MAX_META_BYTES:
        raise ValueError("envelope metadata too large")
    parts = dict(parts or {})
    if len(parts) > MAX_PARTS:
        raise ValueError("too many envelope parts")
    out = [_ENV_HEADER.pack(ENVELOPE_MAGIC, ENVELOPE_VERSION, len(meta_bytes)), meta_bytes,
           _PART_COUNT.pack(len(parts))]
    for name, data in parts.items():
        nb = name.encode("ascii")
        if not 1 <= len(nb) <= 64:
            raise ValueError("part names must be 1..64 ASCII bytes")
        # bytes parts go in as they are: no extra copy of a 10 MB proof before the join
        out += [bytes([len(nb)]), nb, _PART_LEN.pack(len(data)),
                data if isinstance(data, bytes) else bytes(data)]
    return b"".join(out)


def decode_envelope(data: bytes, *, max_meta: int = MAX_META_BYTES) -> Envelope:
    """Strict decoder: raises :class:`EnvelopeError` (only) for anything non-canonical."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EnvelopeError("envelope must be bytes")
    mv = memoryview(data if isinstance(data, bytes) else bytes(data))  # bytes: no copy
    if len(mv) < _ENV_HEADER.size:
        raise EnvelopeError("envelope truncated (header)")
    magic, version, meta_len = _ENV_HEADER.unpack_from(mv, 0)
    if magic != ENVELOPE_MAGIC:
        raise EnvelopeError("not a zkflpq envelope (bad magic)")
    if version != ENVELOPE_VERSION:
        raise EnvelopeError(f"unsupported envelope version {version}")
    if meta_len > max_meta:
        raise EnvelopeError("envelope metadata too large")
    off = _ENV_HEADER.size
    if len(mv) < off + meta_len + _PART_COUNT.size:
        raise EnvelopeError("envelope truncated (metadata)")
    try:
        meta = json.loads(bytes(mv[off:off + meta_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise EnvelopeError("envelope metadata is not valid UTF-8 JSON") from None
    if not isinstance(meta, dict):
        raise EnvelopeError("envelope metadata must be a JSON object")
    off += meta_len
    (count,) = _PART_COUNT.unpack_from(mv, off)
    off += _PART_COUNT.size
    if count > MAX_PARTS:
        raise EnvelopeError("too many envelope parts")
    parts: dict[str, bytes] = {}
    for _ in range(count):
        if len(mv) < off + 1:
            raise EnvelopeError("envelope truncated (part name)")
        nlen = mv[off]
        off += 1
        if not 1 <= nlen <= 64 or len(mv) < off + nlen + _PART_LEN.size:
            raise EnvelopeError("envelope truncated or bad part name length")
        try:
            name = bytes(mv[off:off + nlen]).decode("ascii")
        except UnicodeDecodeError:
            raise EnvelopeError("part name is not ASCII") from None
        off += nlen
        (plen,) = _PART_LEN.unpack_from(mv, off)
        off += _PART_LEN.size
        if plen > len(mv) - off:
            raise EnvelopeError(f"envelope truncated (part {name!r})")
        if name in parts:
            raise EnvelopeError(f"duplicate part {name!r}")
        parts[name] = bytes(mv[off:off + plen])
        off += plen
    if off != len(mv):
        raise EnvelopeError("trailing bytes after the envelope")
    return Envelope(meta, parts)


# -- typed meta accessors ----------------------------------------------------------------
def meta_str(meta: Mapping[str, Any], key: str, max_len: int = 256) -> str:
    v = meta.get(key)
    if not isinstance(v, str) or not 0 < len(v) <= max_len:
        raise EnvelopeError(f"field {key!r} must be a non-empty string")
    return v


def meta_int(meta: Mapping[str, Any], key: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    v = meta.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise EnvelopeError(f"field {key!r} must be an integer in [{lo}, {hi}]")
    return v


def meta_hex(meta: Mapping[str, Any], key: str, nbytes: int) -> bytes:
    v = meta.get(key)
    if not isinstance(v, str) or len(v) != 2 * nbytes:
        raise EnvelopeError(f"field {key!r} must be {nbytes} bytes of lowercase hex")
    try:
        raw = bytes.fromhex(v)
    except ValueError:
        raise EnvelopeError(f"field {key!r} is not hex") from None
    if raw.hex() != v:
        raise EnvelopeError(f"field {key!r} must be lowercase hex")
    return raw


# -- digests and signing messages --------------------------------------------------------
def update_digest_from_hashes(ct_hash: bytes, proof_hash: bytes) -> bytes:
    return sha3(_lp(b"zkflpq/v1/update-digest") + _lp(ct_hash) + _lp(proof_hash))


def update_digest(ciphertexts: bytes, proof: bytes) -> bytes:
    """Digest of (ciphertexts, proof) that the client signs; the KA recomputes it from
    the ciphertexts and the proof's hash."""
    return update_digest_from_hashes(sha3(ciphertexts), sha3(proof))


def submission_key(client_id: str, round_id: int, digest: bytes) -> str:
    """Idempotency key of an update: (client, round, ciphertexts, proof)."""
    return sha3(_lp(b"zkflpq/v1/submission") + _lp(client_id.encode()) +
                struct.pack(">Q", round_id) + _lp(digest)).hex()


def update_signing_message(client_id: str, round_id: int, digest: bytes, timestamp: int,
                           nonce: str, *, aggregator_id: str, deployment: str,
                           k_min: int) -> bytes:
    """What a client signs for one update.

    Besides the update itself it names where the update may be summed, so that nobody
    can reuse the signature elsewhere: ``aggregator_id`` (the aggregator it was sent to),
    ``deployment`` (the key authority's signing-key fingerprint, which the client pins)
    and ``k_min`` (the smallest number of clients, itself included, whose sum the client
    consents to have decrypted). The key authority recomputes this message from the
    requesting aggregator's identity, its own fingerprint and the requested K_min, so an
    aggregator can neither present the update under another identity nor lower K_min.
    """
    return (_lp(b"zkflpq/v2/update") + _lp(client_id.encode()) + _lp(aggregator_id.encode())
            + _lp(deployment.encode()) + struct.pack(">Q", round_id)
            + struct.pack(">Q", k_min) + _lp(digest) + struct.pack(">q", timestamp)
            + _lp(nonce.encode()))


def request_signing_message(method: str, path: str, client_id: str, timestamp: int, nonce: str,
                            body_digest: bytes = b"") -> bytes:
    return (_lp(b"zkflpq/v1/request") + _lp(method.encode()) + _lp(path.encode())
            + _lp(client_id.encode()) + struct.pack(">q", timestamp) + _lp(nonce.encode())
            + _lp(body_digest))


def ka_request_message(meta_bytes_digest: bytes, parts_digest: bytes) -> bytes:
    return _lp(b"zkflpq/v1/ka-request") + _lp(meta_bytes_digest) + _lp(parts_digest)


def ka_result_message(aggregator_id: str, round_id: int, request_digest: bytes,
                      sum_digest: bytes, n_summed: int) -> bytes:
    return (_lp(b"zkflpq/v1/ka-result") + _lp(aggregator_id.encode())
            + struct.pack(">Q", round_id) + _lp(request_digest) + _lp(sum_digest)
            + struct.pack(">Q", n_summed))


def bfv_key_message(params_name: str, params_id: bytes, pk_bytes: bytes) -> bytes:
    return (_lp(b"zkflpq/v1/bfv-public-key") + _lp(params_name.encode()) + _lp(params_id)
            + _lp(sha3(pk_bytes)))


def canonical_json_digest(obj: Any) -> bytes:
    return sha3(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8"))


# -- vectors -----------------------------------------------------------------------------
def encode_float_vector(vec: np.ndarray) -> bytes:
    return np.ascontiguousarray(vec, dtype="<f4").tobytes()


def decode_float_vector(data: bytes, d: int) -> np.ndarray:
    if len(data) != 4 * d:
        raise EnvelopeError(f"model vector has {len(data)} bytes, expected {4 * d}")
    v = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(v)):
        raise EnvelopeError("model vector has non-finite entries")
    return v


def encode_int_vector(vec: np.ndarray) -> bytes:
    return np.ascontiguousarray(vec, dtype="<i8").tobytes()


def decode_int_vector(data: bytes, d: int) -> np.ndarray:
    if len(data) != 8 * d:
        raise EnvelopeError(f"integer vector has {len(data)} bytes, expected {8 * d}")
    return np.frombuffer(data, dtype="<i8").astype(np.int64)


# -- sealed requests ---------------------------------------------------------------------
def seal_request(recipient: KemPublicKey, method: str, path: str, sender_id: str,
                 timestamp: int, plaintext: bytes) -> tuple[bytes, ResponseKey, bytes]:
    """Seal a request; returns (sealed bytes, response key, context)."""
    ctx = request_context(method, path, sender_id, timestamp, PROTOCOL_VERSION)
    sealed, rk = seal(recipient, plaintext, ctx)
    return sealed, rk, ctx


def open_request(recipient: KemPrivateKey, method: str, path: str, sender_id: str,
                 timestamp: int, sealed: bytes) -> tuple[bytes, ResponseKey, bytes]:
    """Open a sealed request (raises zkflpq.pq DecodeError / SealError)."""
    ctx = request_context(method, path, sender_id, timestamp, PROTOCOL_VERSION)
    plaintext, rk = open_sealed(recipient, sealed, ctx)
    return plaintext, rk, ctx


def signed_request_envelope(signing_key: SigningKey, method: str, path: str, client_id: str,
                            timestamp: int, meta: Mapping[str, Any] | None = None,
                            parts: Mapping[str, bytes] | None = None) -> bytes:
    """Envelope of a (non-update) client request, signed over method/path/time/nonce/body."""
    nonce = new_nonce()
    body_meta = dict(meta or {})
    body_parts = dict(parts or {})
    body_digest = canonical_json_digest(body_meta) + b"".join(
        sha3(name.encode() + b"\0" + data) for name, data in sorted(body_parts.items()))
    sig = signing_key.sign(request_signing_message(method, path, client_id, timestamp, nonce,
                                                   sha3(body_digest)), CTX_REQUEST)
    full_meta = {"client_id": client_id, "timestamp": timestamp, "nonce": nonce,
                 "body": body_meta}
    body_parts["signature"] = sig
    return encode_envelope(full_meta, body_parts)


def request_body_digest(env: Envelope) -> bytes:
    body_meta = env.meta.get("body", {})
    if not isinstance(body_meta, dict):
        raise EnvelopeError("field 'body' must be an object")
    parts = {k: v for k, v in env.parts.items() if k != "signature"}
    return sha3(canonical_json_digest(body_meta) + b"".join(
        sha3(name.encode() + b"\0" + data) for name, data in sorted(parts.items())))
