"""HTTP transport of the client agent: sealed + signed requests to the aggregator, with
timeouts and retries (exponential backoff with jitter).

Retries happen on connection errors, timeouts, ``429`` (honouring ``Retry-After``) and
``502/503/504``. An update is signed once and re-sealed per attempt with the *same*
signed envelope (same timestamp and nonce), so the aggregator recognises a retry as the
same update and answers with the original verdict (idempotent resubmission). GET requests
are re-signed per attempt (their nonces are single-use).
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from zkflpq.bfv import BfvParams, PublicKey, decode_public_key, get_params
from zkflpq.client_pipeline import sign_update
from zkflpq.pq import KemAlgorithm, KemPublicKey, SignatureError, SigningKey, VerifyKey
from zkflpq.protocol import (
    CTX_BFV_KEY,
    HEADER_SEALED,
    HEADER_SENDER,
    HEADER_TIMESTAMP,
    SEALED_MEDIA_TYPE,
    Envelope,
    b64d,
    b64e,
    bfv_key_message,
    decode_envelope,
    decode_float_vector,
    now,
    seal_request,
    signed_request_envelope,
)

__all__ = ["AggregatorClient", "ProtocolError", "RetryPolicy", "ServerParams",
           "SubmissionResult"]

log = logging.getLogger("zkflpq.agent")


class ProtocolError(Exception):
    """The server answered with an error (status, reason) or something unreadable.

    ``status`` 0 means no HTTP answer (unreachable, or refused locally before sending);
    ``service`` names who answered ("the aggregator at URL"), so an operator with two
    services and two tokens can tell which one refused."""

    def __init__(self, status: int, reason: str, detail: str = "", service: str = "") -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        self.service = service
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"{self.status} {self.reason}" if self.status else self.reason
        text = f"{head}: {self.detail}" if self.detail else head
        return f"{self.service} answered {text}" if self.service and self.status else (
            f"{self.service}: {text}" if self.service else text)

    def __str__(self) -> str:
        return self._message()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    backoff_s: float = 0.25
    max_backoff_s: float = 8.0
    retry_statuses: tuple[int, ...] = (429, 502, 503, 504)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(self.max_backoff_s, max(0.0, float(retry_after)))
            except ValueError:
                pass
        base = min(self.max_backoff_s, self.backoff_s * (2 ** attempt))
        return base * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class ServerParams:
    raw: dict[str, Any]
    aggregator_id: str
    params: BfvParams
    bfv_pk: PublicKey
    kem_pk: KemPublicKey
    aggregator_vk: VerifyKey
    key_authority_vk: VerifyKey


@dataclass
class SubmissionResult:
    status: int
    verdict: str
    reason: str | None
    detail: str | None
    meta: dict[str, Any]
    attempts: int
    seconds: float
    bytes_sent: int = 0

    @property
    def accepted(self) -> bool:
        return self.status == 202 and self.verdict == "accepted"


@dataclass
class _Prepared:
    method: str
    path: str
    plaintext: bytes
    timestamp: int
    extra_headers: dict[str, str] = field(default_factory=dict)


def tls_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's ``verify`` from True/False or a PEM CA bundle path (httpx deprecates paths);
    a missing bundle raises FileNotFoundError here, before any request."""
    return ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify


class AggregatorClient:
    def __init__(self, url: str, *, signing_key: SigningKey | None = None,
                 client_id: str | None = None, aggregator_fingerprint: str | None = None,
                 key_authority_fingerprint: str | None = None,
                 timeout: float | httpx.Timeout = 60.0, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, min_k_min: int = 2,
                 verify: bool | str = True) -> None:
        """``min_k_min`` (>= 1) is this client's own floor on a round's K_min: it refuses to
        sign an update for a round whose sum could be decrypted with fewer clients.
        ``verify``: TLS certificate check for an https URL (True: system CAs; a path: that
        CA bundle)."""
        if min_k_min < 1:
            raise ValueError("min_k_min must be at least 1")
        self.url = url.rstrip("/")
        self.min_k_min = min_k_min
        self._round_k_min: dict[int, int] = {}
        self.signing_key = signing_key
        if client_id is None and signing_key is not None:
            from zkflpq.protocol import client_id_for

            client_id = client_id_for(signing_key.verify_key())
        self.client_id = client_id
        self.aggregator_fingerprint = aggregator_fingerprint
        self.key_authority_fingerprint = key_authority_fingerprint
        self.retry = retry or RetryPolicy()
        self.http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                 verify=tls_verify(verify))
        self._params: ServerParams | None = None
        self.sleep: Callable[[float], None] = time.sleep

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AggregatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- params ----------------------------------------------------------------------------
    def params(self, refresh: bool = False) -> ServerParams:
        if self._params is not None and not refresh:
            return self._params
        r = self._send(lambda: self.http.get("/v1/params"))
        if r.status_code != 200:
            raise self._not_an_aggregator(r)
        try:
            raw = r.json()
        except ValueError:
            raw = None
        if not isinstance(raw, dict) or "protocol_version" not in raw:
            raise self._not_an_aggregator(r)
        if "aggregator_id" not in raw and "min_clients" in raw:
            raise ProtocolError(0, "wrong_url", f"{self.url} is the key authority, not the "
                                "aggregator: give the aggregator's URL", self._who())
        try:
            agg_vk = VerifyKey.from_bytes(b64d(raw["signing_key"]))
            ka_vk = VerifyKey.from_bytes(b64d(raw["key_authority"]["signing_key"]))
            kem = raw["kem"]
            kem_pk = KemPublicKey.from_bytes(KemAlgorithm[kem["algorithm"]],
                                             b64d(kem["public_key"]))
            params = get_params(raw["params"])
            pk_bytes = b64d(raw["bfv_public_key"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(200, "bad_params", str(exc)) from None
        if self.aggregator_fingerprint and kem_pk.fingerprint() != self.aggregator_fingerprint \
                and agg_vk.fingerprint() != self.aggregator_fingerprint:
            raise ProtocolError(200, "pin_mismatch", "aggregator key does not match the pin")
        if self.key_authority_fingerprint and ka_vk.fingerprint() != \
                self.key_authority_fingerprint:
            raise ProtocolError(200, "pin_mismatch", "key authority does not match the pin")
        try:
            ka_vk.verify(b64d(raw["bfv_public_key_signature"]),
                         bfv_key_message(params.name, params.id_bytes, pk_bytes), CTX_BFV_KEY)
        except (SignatureError, KeyError, ValueError):
            raise ProtocolError(200, "bad_signature", "BFV public key is not signed by the "
                                "key authority") from None
        self._params = ServerParams(raw, raw["aggregator_id"], params,
                                    decode_public_key(pk_bytes, params), kem_pk, agg_vk, ka_vk)
        return self._params

    def _who(self) -> str:
        return f"the aggregator at {self.url}"

    def _not_an_aggregator(self, r: httpx.Response) -> ProtocolError:
        """A /v1/params that is missing or not ours: say so instead of "no open round"."""
        hint = (" (give the base URL, without the trailing /v1)"
                if self.url.endswith("/v1") else "")
        return ProtocolError(0, "wrong_url",
                             f"{self.url}/v1/params answered {r.status_code}, not a zkflpq "
                             f"aggregator's parameters: is {self.url} the aggregator's base "
                             f"URL?{hint}", "")

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, do: Callable[[], httpx.Response]) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            try:
                r = do()
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = exc
                log.info("request failed; retrying", extra={"fields": {
                    "attempt": attempt + 1, "error": type(exc).__name__}})
                self.sleep(self.retry.delay(attempt))
                continue
            if r.status_code in self.retry.retry_statuses and attempt + 1 < self.retry.attempts:
                self.sleep(self.retry.delay(attempt, r.headers.get("retry-after")))
                continue
            return r
        raise ProtocolError(0, "unreachable", f"cannot reach {self.url} after "
                            f"{self.retry.attempts} attempts ({type(last).__name__}: {last})")

    def _exchange(self, prepare: Callable[[], _Prepared]) -> tuple[httpx.Response, Envelope | None,
                                                                 int]:
        """Seal, send, open. ``prepare`` is called per attempt (fresh seal)."""
        p = self.params()
        attempts = 0
        state: tuple[Any, bytes] | None = None

        def do() -> httpx.Response:
            nonlocal attempts, state
            attempts += 1
            prep = prepare()
            sealed, rk, ctx = seal_request(p.kem_pk, prep.method, prep.path.split("?")[0],
                                           self._cid(), prep.timestamp, prep.plaintext)
            state = (rk, ctx)
            headers = {HEADER_SENDER: self._cid(), HEADER_TIMESTAMP: str(prep.timestamp),
                       **prep.extra_headers}
            if prep.method == "GET":
                headers[HEADER_SEALED] = b64e(sealed)
                return self.http.get(prep.path, headers=headers)
            headers["Content-Type"] = SEALED_MEDIA_TYPE
            return self.http.request(prep.method, prep.path, content=sealed, headers=headers)

        r = self._send(do)
        env = None
        if r.headers.get("content-type", "").startswith(SEALED_MEDIA_TYPE):
            assert state is not None
            rk, ctx = state
            try:
                env = decode_envelope(rk.open(r.content, ctx))
            except Exception as exc:  # noqa: BLE001
                raise ProtocolError(r.status_code, "bad_response", str(exc)) from None
        return r, env, attempts

    def _cid(self) -> str:
        if self.client_id is None:
            raise ProtocolError(0, "no_identity", "a signing key is required")
        return self.client_id

    def _signed_get(self, path: str) -> Envelope:
        if self.signing_key is None:
            raise ProtocolError(0, "no_identity", "a signing key is required")
        sk = self.signing_key

        def prepare() -> _Prepared:
            ts = now()
            base = path.split("?")[0]
            return _Prepared("GET", path, signed_request_envelope(sk, "GET", base, self._cid(),
                                                                  ts), ts)

        r, env, _ = self._exchange(prepare)
        if r.status_code != 200 or env is None:
            raise _error(r, env, self._who())
        return env

    # -- API -------------------------------------------------------------------------------
    def current_round(self) -> dict[str, Any]:
        return self._remember(self._signed_get("/v1/rounds/current").meta)

    def round_status(self, round_id: int) -> dict[str, Any]:
        return self._remember(self._signed_get(f"/v1/rounds/{round_id}").meta)

    def _remember(self, meta: dict[str, Any]) -> dict[str, Any]:
        rid, k_min = meta.get("round_id"), meta.get("k_min")
        if isinstance(rid, int) and isinstance(k_min, int):
            self._round_k_min[rid] = k_min
        return meta

    def round_k_min(self, round_id: int) -> int:
        """The round's K_min as the aggregator announced it (fetched once per round)."""
        if round_id not in self._round_k_min:
            self.round_status(round_id)
        try:
            return self._round_k_min[round_id]
        except KeyError:
            raise ProtocolError(200, "bad_response", "round status has no k_min") from None

    def model(self, round_id: int, stage: str = "start") -> tuple[np.ndarray, dict[str, Any]]:
        path = f"/v1/rounds/{round_id}/model" + ("?stage=result" if stage == "result" else "")
        env = self._signed_get(path)
        d = int(env.meta["d"])
        return decode_float_vector(env.part("model"), d), env.meta

    def signed_update(self, round_id: int, ciphertexts: bytes, proof: bytes,
                      timestamp: int | None = None, nonce: str | None = None,
                      k_min: int | None = None) -> bytes:
        """The update envelope (signed once; every retry re-seals these same bytes).

        The signature names this aggregator, the pinned key authority and the round's
        K_min (:func:`zkflpq.protocol.update_signing_message`); a K_min below
        ``min_k_min`` is refused before anything is signed."""
        if self.signing_key is None:
            raise ProtocolError(0, "no_identity", "a signing key is required")
        p = self.params()
        k_min = self.round_k_min(round_id) if k_min is None else k_min
        if k_min < self.min_k_min:
            raise ProtocolError(0, "k_min_too_low",
                                f"round {round_id} has K_min = {k_min}; this client requires "
                                f"at least {self.min_k_min} clients in every decrypted sum")
        # The signing itself is the transport-free pipeline's (shared with the Flower mod).
        return sign_update(self.signing_key, round_id=round_id, ciphertexts=ciphertexts,
                           proof=proof, aggregator_id=p.aggregator_id,
                           deployment=p.key_authority_vk.fingerprint(), k_min=k_min,
                           client_id=self._cid(), timestamp=timestamp, nonce=nonce)

    def submit_envelope(self, round_id: int, envelope: bytes, timestamp: int
                        ) -> SubmissionResult:
        path = f"/v1/rounds/{round_id}/updates"
        t0 = time.perf_counter()
        r, env, attempts = self._exchange(lambda: _Prepared("POST", path, envelope, timestamp))
        meta: dict[str, Any]
        if env is not None:
            meta = env.meta
        else:
            try:
                meta = r.json()
            except ValueError:
                meta = {"error": "bad_response", "detail": r.text[:200]}
        verdict = str(meta.get("verdict") or ("rejected" if r.status_code >= 400 else "?"))
        return SubmissionResult(r.status_code, verdict, meta.get("error"), meta.get("detail"),
                                meta, attempts, time.perf_counter() - t0,
                                bytes_sent=len(envelope))

    def submit(self, round_id: int, ciphertexts: bytes, proof: bytes,
               k_min: int | None = None) -> SubmissionResult:
        ts = now()
        envelope = self.signed_update(round_id, ciphertexts, proof, timestamp=ts, k_min=k_min)
        return self.submit_envelope(round_id, envelope, ts)


def _error(r: httpx.Response, env: Envelope | None, service: str = "") -> ProtocolError:
    """The server's (reason, detail); a body that is not a zkflpq error (a proxy's page, a
    framework 404 for a path that does not exist) is reported as ``http_error``."""
    if env is not None:
        return ProtocolError(r.status_code, str(env.meta.get("error")),
                             str(env.meta.get("detail", "")), service)
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return ProtocolError(r.status_code, body["error"], str(body.get("detail") or ""),
                             service)
    return ProtocolError(r.status_code, "http_error",
                         f"{r.request.url} is not a zkflpq endpoint ({r.text[:120]!r})", service)
