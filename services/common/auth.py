"""Opening and authenticating sealed, signed client requests (both services).

Status codes, in the order the checks run:

==========================  ======  ===================
check                        status  reason
==========================  ======  ===================
sender/timestamp headers     401     unauthenticated
sender enrolled              403     not_enrolled
sealed body present          401     unauthenticated
sealed body parses           400     malformed | truncated
sealed body authenticates    400     tampered
envelope parses (sealed)     422     malformed
signature valid              422     bad_signature
timestamp within window      422     stale_timestamp
nonce unused                 422     replay
==========================  ======  ===================

From "envelope parses" on, the response is sealed to the caller with the response key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from zkflpq.pq import DecodeError, KemPrivateKey, SealError, SignatureError, VerifyKey
from zkflpq.protocol import (
    CTX_REQUEST,
    HEADER_SEALED,
    HEADER_SENDER,
    HEADER_TIMESTAMP,
    Envelope,
    EnvelopeError,
    b64d,
    decode_envelope,
    meta_int,
    meta_str,
    now,
    open_request,
    request_body_digest,
    request_signing_message,
)

from .http import ApiError

__all__ = ["OpenedRequest", "check_timestamp", "open_client_request", "verify_request_signature"]

MAX_HEADER_SEALED = 64 * 1024


@dataclass(frozen=True)
class OpenedRequest:
    sender: str
    timestamp: int
    envelope: Envelope
    verify_key: VerifyKey


def sender_headers(request: Request) -> tuple[str, int]:
    sender = request.headers.get(HEADER_SENDER)
    ts_text = request.headers.get(HEADER_TIMESTAMP)
    if not sender or ts_text is None:
        raise ApiError(401, "unauthenticated",
                       f"{HEADER_SENDER} and {HEADER_TIMESTAMP} headers are required")
    if len(sender) > 128:
        raise ApiError(401, "unauthenticated", "sender id too long")
    try:
        ts = int(ts_text)
    except ValueError:
        raise ApiError(401, "unauthenticated", "invalid timestamp header") from None
    if not -(2**62) < ts < 2**62:
        raise ApiError(401, "unauthenticated", "invalid timestamp header")
    return sender, ts


def open_sealed_body(request: Request, kem_sk: KemPrivateKey, sender: str, ts: int,
                     sealed: bytes) -> bytes:
    """Open a sealed request body and remember the response key on request.state."""
    try:
        plaintext, rk, ctx = open_request(kem_sk, request.method, request.url.path, sender, ts,
                                          sealed)
    except DecodeError as exc:
        text = str(exc)
        reason = "truncated" if ("truncated" in text or "does not match its length" in text) \
            else "malformed"
        raise ApiError(400, reason, f"sealed body: {text}") from None
    except SealError:
        raise ApiError(400, "tampered", "sealed body failed authentication (modified, "
                       "or sealed for another key, path, sender or timestamp)") from None
    request.state.response_key = rk
    request.state.response_ctx = ctx
    return plaintext


def open_client_request(request: Request, kem_sk: KemPrivateKey, body: bytes | None,
                        lookup_key: Callable[[str], VerifyKey | None]) -> OpenedRequest:
    sender, ts = sender_headers(request)
    vk = lookup_key(sender)
    if vk is None:
        raise ApiError(403, "not_enrolled", "unknown client id")
    if body is None or len(body) == 0:
        header = request.headers.get(HEADER_SEALED)
        if not header:
            raise ApiError(401, "unauthenticated", "sealed request required")
        if len(header) > MAX_HEADER_SEALED:
            raise ApiError(400, "malformed", "sealed header too long")
        try:
            body = b64d(header)
        except ValueError:
            raise ApiError(400, "malformed", f"{HEADER_SEALED} is not base64url") from None
    plaintext = open_sealed_body(request, kem_sk, sender, ts, body)
    try:
        env = decode_envelope(plaintext)
    except EnvelopeError as exc:
        raise ApiError(422, "malformed", f"envelope: {exc}") from None
    return OpenedRequest(sender, ts, env, vk)


def check_timestamp(ts: int, window: int) -> None:
    skew = abs(now() - ts)
    if skew > window:
        raise ApiError(422, "stale_timestamp",
                       f"timestamp is {skew} s away from the server clock (window {window} s)")


def verify_request_signature(request: Request, opened: OpenedRequest, window: int) -> str:
    """Check a non-update request's signature, timestamp; returns its nonce (caller checks
    it is unused)."""
    env = opened.envelope
    try:
        client_id = meta_str(env.meta, "client_id", 128)
        ts = meta_int(env.meta, "timestamp", -(2**62), 2**62)
        nonce = meta_str(env.meta, "nonce", 64)
        sig = env.part("signature")
        body_digest = request_body_digest(env)
    except EnvelopeError as exc:
        raise ApiError(422, "malformed", str(exc)) from None
    if client_id != opened.sender or ts != opened.timestamp:
        raise ApiError(422, "bad_signature", "signed client id/timestamp differ from the "
                       "headers")
    msg = request_signing_message(request.method, request.url.path, client_id, ts, nonce,
                                  body_digest)
    try:
        opened.verify_key.verify(sig, msg, CTX_REQUEST)
    except SignatureError:
        raise ApiError(422, "bad_signature", "ML-DSA-65 signature does not verify") from None
    check_timestamp(ts, window)
    return nonce
