"""The aggregator's side of the key authority: pinned parameters and decryption requests."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from zkflpq.agent.transport import tls_verify
from zkflpq.bfv import BfvParams, PublicKey, decode_public_key, get_params
from zkflpq.pq import KemAlgorithm, KemPublicKey, SignatureError, SigningKey, VerifyKey
from zkflpq.protocol import (
    CTX_BFV_KEY,
    CTX_KA_REQUEST,
    CTX_KA_RESULT,
    HEADER_SENDER,
    HEADER_TIMESTAMP,
    SEALED_MEDIA_TYPE,
    EnvelopeError,
    b64d,
    bfv_key_message,
    canonical_json_digest,
    decode_envelope,
    decode_int_vector,
    encode_envelope,
    ka_request_message,
    ka_result_message,
    meta_int,
    new_nonce,
    now,
    seal_request,
    sha3,
)

from .db import AcceptedRow

__all__ = ["KaError", "KaInfo", "KeyAuthorityClient"]

log = logging.getLogger("zkflpq.aggregator.ka")


class KaError(Exception):
    """The key authority refused or could not be reached (status 0: never answered).

    ``client_ids`` lists the clients an ``unknown_client`` refusal names."""

    def __init__(self, status: int, reason: str, detail: str = "",
                 client_ids: list[str] | None = None) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.client_ids = client_ids or []


def _refusal(status: int, body: dict[str, Any]) -> KaError:
    ids = body.get("client_ids")
    named = [c for c in ids if isinstance(c, str)] if isinstance(ids, list) else []
    return KaError(status, str(body.get("error")), str(body.get("detail")), named)


@dataclass(frozen=True)
class KaInfo:
    raw: dict[str, Any]
    params: BfvParams
    bfv_pk_bytes: bytes
    bfv_pk: PublicKey
    kem_pk: KemPublicKey
    verify_key: VerifyKey

    @property
    def fingerprint(self) -> str:
        return self.verify_key.fingerprint()


def parse_ka_params(raw: dict[str, Any], pin: str | None = None) -> KaInfo:
    """Validate the key authority's /v1/params: the BFV key must carry the KA's signature."""
    try:
        vk = VerifyKey.from_bytes(b64d(raw["signing_key"]))
        if pin and vk.fingerprint() != pin.lower():
            raise KaError(0, "pin_mismatch", "key authority signing key does not match the pin")
        params = get_params(raw["params"])
        pk_bytes = b64d(raw["bfv_public_key"])
        vk.verify(b64d(raw["bfv_public_key_signature"]),
                  bfv_key_message(params.name, params.id_bytes, pk_bytes), CTX_BFV_KEY)
        kem = raw["kem"]
        kem_pk = KemPublicKey.from_bytes(KemAlgorithm[kem["algorithm"]],
                                         b64d(kem["public_key"]))
        pk = decode_public_key(pk_bytes, params)
    except KaError:
        raise
    except SignatureError:
        raise KaError(0, "bad_signature", "BFV public key signature does not verify") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise KaError(0, "malformed", f"key authority params: {exc}") from None
    return KaInfo(raw, params, pk_bytes, pk, kem_pk, vk)


class KeyAuthorityClient:
    def __init__(self, url: str, data_dir: Path, pin: str | None, timeout: float,
                 ca_file: Path | None = None) -> None:
        self.url = url.rstrip("/")
        # A CA bundle for a private PKI, else the system's trust store.
        self.verify = tls_verify(str(ca_file) if ca_file is not None else True)
        self.cache = data_dir / "key_authority.json"
        self.pin = pin
        self.timeout = timeout
        self.info: KaInfo | None = None

    def load(self, wait_s: float = 60.0) -> KaInfo:
        """Pinned copy from the data directory if present (trust on first use), else fetch
        (retrying while the key authority starts)."""
        if self.cache.exists():
            cached = parse_ka_params(json.loads(self.cache.read_text()), self.pin)
            self.info = cached
            return cached
        t0 = time.monotonic()
        deadline = t0 + wait_s
        delay = 0.2
        last: Exception | None = None
        said = t0 - 5.0  # say so on the first failure, then every 5 s
        while True:
            try:
                r = httpx.get(f"{self.url}/v1/params", verify=self.verify,
                              timeout=min(10.0, max(1.0, wait_s)))
                r.raise_for_status()
                info = parse_ka_params(r.json(), self.pin)
                break
            except (httpx.HTTPError, ValueError) as exc:
                last = exc
            now = time.monotonic()
            if now > deadline:
                raise KaError(503, "key_authority_unreachable",
                              f"no key authority at {self.url} after {now - t0:.0f} s "
                              f"({type(last).__name__}: {last})")
            if now - said >= 5.0:
                said = now
                log.warning("waiting for the key authority", extra={"fields": {
                    "url": self.url, "waited_s": round(now - t0), "give_up_s": wait_s,
                    "error": f"{type(last).__name__}: {last}"}})
            time.sleep(delay)
            delay = min(2.0, delay * 1.5)
        tmp = self.cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(info.raw, indent=1))
        tmp.replace(self.cache)
        self.info = info
        log.info("pinned key authority", extra={"fields": {
            "fingerprint": info.fingerprint, "params": info.params.name}})
        return info

    def build_request(self, *, aggregator_id: str, signing_key: SigningKey, round_id: int,
                      d: int, k: int, k_min: int, rows: list[AcceptedRow],
                      timestamp: int) -> bytes:
        """Envelope: metadata + ct_i / sig_i parts + the aggregator's signature over both."""
        assert self.info is not None
        entries = []
        parts: dict[str, bytes] = {}
        for i, row in enumerate(rows):
            entries.append({"client_id": row.client_id, "timestamp": int(row.timestamp),
                            "nonce": row.nonce, "proof_hash": row.proof_hash,
                            "ciphertexts": f"ct{i}", "signature": f"sig{i}"})
            parts[f"ct{i}"] = row.ciphertexts
            parts[f"sig{i}"] = row.signature
        meta = {"aggregator_id": aggregator_id, "round_id": round_id,
                "params": self.info.params.name, "d": d, "k": k, "k_min": k_min,
                "timestamp": timestamp, "nonce": new_nonce(), "entries": entries}
        msg = ka_request_message(canonical_json_digest(meta), parts_digest(parts))
        parts["aggregator_signature"] = signing_key.sign(msg, CTX_KA_REQUEST)
        return encode_envelope(meta, parts)

    def decrypt(self, *, aggregator_id: str, signing_key: SigningKey, round_id: int, d: int,
                k: int, k_min: int, rows: list[AcceptedRow]) -> tuple[Any, dict[str, Any]]:
        """Ask for the decryption of the round's sum; returns (int64 sum (d,), info)."""
        assert self.info is not None
        ts = now()
        plaintext = self.build_request(aggregator_id=aggregator_id, signing_key=signing_key,
                                       round_id=round_id, d=d, k=k, k_min=k_min, rows=rows,
                                       timestamp=ts)
        path = "/v1/decryptions"
        sealed, rk, ctx = seal_request(self.info.kem_pk, "POST", path, aggregator_id, ts,
                                       plaintext)
        t0 = time.perf_counter()
        try:
            r = httpx.post(f"{self.url}{path}", content=sealed, verify=self.verify,
                           timeout=self.timeout, headers={
                "Content-Type": SEALED_MEDIA_TYPE, HEADER_SENDER: aggregator_id,
                HEADER_TIMESTAMP: str(ts)})
        except httpx.HTTPError as exc:
            raise KaError(503, "key_authority_unreachable", str(exc)) from None
        ms = (time.perf_counter() - t0) * 1000
        if r.headers.get("content-type", "").startswith(SEALED_MEDIA_TYPE):
            try:
                env = decode_envelope(rk.open(r.content, ctx))
            except Exception as exc:  # noqa: BLE001
                raise KaError(502, "bad_response", f"key authority response: {exc}") from None
        else:
            try:
                body = r.json()
            except ValueError:
                body = {"error": "bad_response", "detail": r.text[:200]}
            if not isinstance(body, dict):
                body = {"error": "bad_response", "detail": str(body)[:200]}
            raise _refusal(r.status_code, body)
        if r.status_code != 200:
            raise _refusal(r.status_code, env.meta)
        try:
            n = meta_int(env.meta, "n_summed", 1)
            vec = decode_int_vector(env.part("sum"), d)
            sig = env.part("signature")
            request_digest = bytes.fromhex(str(env.meta.get("request_digest")))
        except (EnvelopeError, ValueError) as exc:
            raise KaError(502, "bad_response", str(exc)) from None
        try:
            self.info.verify_key.verify(
                sig, ka_result_message(aggregator_id, round_id, request_digest,
                                       sha3(env.part("sum")), n), CTX_KA_RESULT)
        except SignatureError:
            raise KaError(502, "bad_signature", "key authority result signature") from None
        return vec, {"n_summed": n, "ka_ms": round(ms, 1),
                     "request_digest": request_digest.hex(),
                     "result_signature": sig.hex()[:32] + "…",
                     "client_ids": [row.client_id for row in rows]}


def parts_digest(parts: dict[str, bytes]) -> bytes:
    h = b"".join(sha3(name.encode() + b"\0" + data) for name, data in sorted(parts.items()))
    return sha3(h)
