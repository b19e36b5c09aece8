"""Key authority: holds the BFV secret key; decrypts only sums it recomputes itself from at
least ``max(K_min, min_clients)`` ciphertexts, each signed by a distinct enrolled client
for this deployment, the requesting aggregator, the round and that K_min; at most once per
(aggregator, round), and each ciphertext in at most one decryption ever, whoever asks;
appends every decision to a hash-chained audit log. The privacy claim this implements is
written in ``proofs/key-authority-privacy.md``.

Refusals (all 4xx, sealed once the request is opened):
``not_enrolled`` 403 (unknown aggregator), ``bad_signature`` 422 (aggregator signature, or
a client signature — e.g. a tampered ciphertext), ``unknown_client`` 422,
``duplicate_client`` 422, ``too_few_clients`` 422, ``malformed`` 422,
``wrong_params`` 422, ``stale_timestamp``/``replay`` 422, ``already_decrypted`` 409,
``ciphertext_reused`` 409.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from anyio import to_thread
from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram

from zkflpq.bfv import (
    BfvDecodeError,
    check_key_pair,
    decode_ciphertexts,
    decode_public_key,
    decode_secret_key,
    decrypt,
    encode_public_key,
    encode_secret_key,
    get_params,
    keygen,
    sum_ciphertexts,
)
from zkflpq.pq import DecodeError, SignatureError, VerifyKey, fingerprint
from zkflpq.protocol import (
    CTX_BFV_KEY,
    CTX_KA_REQUEST,
    CTX_KA_RESULT,
    CTX_UPDATE,
    PROTOCOL_VERSION,
    EnvelopeError,
    b64d,
    b64e,
    bfv_key_message,
    canonical_json_digest,
    client_id_for,
    decode_envelope,
    encode_int_vector,
    ka_request_message,
    ka_result_message,
    meta_int,
    meta_str,
    sha3,
    update_digest_from_hashes,
    update_signing_message,
)

from ..aggregator.ka_client import parts_digest
from ..common.auth import check_timestamp, open_sealed_body, sender_headers
from ..common.http import ApiError, read_body, sealed_response
from ..common.keys import (
    KEM_ALGS,
    admin_token,
    load_or_create_kem,
    load_or_create_signing,
    write_secret_text,
)
from ..common.limits import UploadSlots, admit_upload
from ..common.settings import KeyAuthoritySettings
from .db import KaStore

__all__ = ["KeyAuthorityService", "init_key_authority"]

log = logging.getLogger("zkflpq.key_authority")

MAX_ENTRIES = 100_000


def init_key_authority(data_dir: Path, params_name: str, kem: str = "xwing",
                       admin: str | None = None) -> dict[str, Any]:
    """Create the key authority's keys (BFV, KEM, ML-DSA) and admin token in ``data_dir``.

    Refuses to overwrite an existing BFV secret key."""
    params = get_params(params_name)
    data_dir.mkdir(parents=True, exist_ok=True)
    sk_path = data_dir / "bfv.sk"
    if sk_path.exists():
        raise FileExistsError(f"{sk_path} exists: the key authority is already initialised")
    sk, pk = keygen(params)
    fd = os.open(sk_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(encode_secret_key(sk))
    (data_dir / "bfv.pk").write_bytes(encode_public_key(pk))
    kem_sk = load_or_create_kem(data_dir / "key_authority.kem", KEM_ALGS[kem])
    sig = load_or_create_signing(data_dir / "key_authority.sig")
    token = admin_token(data_dir, admin)
    if admin and not (data_dir / "admin.token").exists():
        write_secret_text(data_dir / "admin.token", admin + "\n")
    (data_dir / "key_authority.json").write_text(json.dumps({"params": params.name}))
    return {"params": params.name, "insecure": params.insecure,
            "signing_key_fingerprint": fingerprint(sig), "kem_fingerprint": fingerprint(kem_sk),
            "admin_token_file": str(data_dir / "admin.token") if token else None}


class KeyAuthorityService:
    def __init__(self, settings: KeyAuthoritySettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        data = Path(settings.data_dir)
        cfg = data / "key_authority.json"
        if not cfg.exists():
            raise FileNotFoundError(f"{data} is not an initialised key authority "
                                    "(run: zkflpq key-authority init)")
        self.data_dir = data
        self.params = get_params(json.loads(cfg.read_text())["params"])
        self.sk = decode_secret_key((data / "bfv.sk").read_bytes(), self.params)
        self.pk_bytes = (data / "bfv.pk").read_bytes()
        # A swapped or corrupted key file, or a key outside assumption A-key, would make
        # every decryption of the aggregate wrong: refuse to start instead.
        check_key_pair(self.sk, decode_public_key(self.pk_bytes, self.params))
        self.kem_sk = load_or_create_kem(data / "key_authority.kem", KEM_ALGS[settings.kem])
        self.signing_key = load_or_create_signing(data / "key_authority.sig")
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        self.admin_token = admin_token(data, token)
        url = settings.database_url or f"sqlite:///{(data / 'key_authority.sqlite3').resolve()}"
        self.store = KaStore(url)
        self.audit_path = data / "audit.jsonl"
        self._audit_lock = threading.Lock()
        self.pk_signature = self.signing_key.sign(
            bfv_key_message(self.params.name, self.params.id_bytes, self.pk_bytes), CTX_BFV_KEY)
        self.decryptions = Counter("zkflpq_ka_decryptions_total", "decryption requests",
                                   ["outcome"], registry=registry)
        self._pruner: asyncio.Task[None] | None = None
        self.uploads = UploadSlots(settings.max_uploads_per_sender)
        self.decrypt_seconds = Histogram("zkflpq_ka_decrypt_seconds",
                                         "verify + sum + decrypt time", registry=registry)

    async def startup(self) -> None:
        await to_thread.run_sync(self.store.create_all)
        self._pruner = asyncio.create_task(self._prune_nonces())
        log.info("key authority ready", extra={"fields": {
            "params": self.params.name, "signing_key": fingerprint(self.signing_key),
            "kem": self.kem_sk.algorithm.label}})

    async def _prune_nonces(self) -> None:
        while True:
            try:
                cutoff = time.time() - 2 * self.settings.timestamp_window_s
                await to_thread.run_sync(self.store.prune_nonces, cutoff)
            except Exception as exc:  # noqa: BLE001 - housekeeping must not stop the service
                log.warning("nonce pruning failed", extra={"fields": {
                    "exc_type": type(exc).__name__}})
            await asyncio.sleep(300)

    async def shutdown(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
        self.store.dispose()

    def params_document(self) -> dict[str, Any]:
        return {"protocol_version": PROTOCOL_VERSION, "params": self.params.name,
                "params_id": self.params.id_bytes.hex(), "insecure": self.params.insecure,
                "bfv_public_key": b64e(self.pk_bytes),
                "bfv_public_key_signature": b64e(self.pk_signature),
                "kem": {"algorithm": self.kem_sk.algorithm.name,
                        "public_key": b64e(self.kem_sk.public_key().to_bytes())},
                "signing_key": b64e(self.signing_key.verify_key().to_bytes()),
                "fingerprints": {"signing_key": fingerprint(self.signing_key),
                                 "kem": fingerprint(self.kem_sk)},
                "min_clients": self.settings.min_clients}

    # -- admin ---------------------------------------------------------------------------
    async def enrol_client(self, public_key_b64: str, label: str) -> dict[str, Any]:
        try:
            vk = VerifyKey.from_bytes(b64d(public_key_b64))
        except (ValueError, DecodeError) as exc:  # KeyLengthError is both
            raise ApiError(422, "malformed", f"public_key: {exc}") from None
        cid = client_id_for(vk)
        try:
            created = await to_thread.run_sync(self.store.enrol_client, cid, vk.to_bytes(), label)
        except ValueError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        self._audit({"event": "client_enrolled", "client_id": cid,
                     "fingerprint": vk.fingerprint(), "new": created})
        return {"client_id": cid, "fingerprint": vk.fingerprint(), "created": created}

    async def enrol_aggregator(self, aggregator_id: str, public_key_b64: str) -> dict[str, Any]:
        try:
            vk = VerifyKey.from_bytes(b64d(public_key_b64))
        except (ValueError, DecodeError) as exc:  # KeyLengthError is both
            raise ApiError(422, "malformed", f"public_key: {exc}") from None
        try:
            created = await to_thread.run_sync(self.store.enrol_aggregator, aggregator_id,
                                               vk.to_bytes())
        except ValueError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        self._audit({"event": "aggregator_enrolled", "aggregator_id": aggregator_id,
                     "fingerprint": vk.fingerprint(), "new": created})
        return {"aggregator_id": aggregator_id, "fingerprint": vk.fingerprint(),
                "created": created}

    # -- audit -----------------------------------------------------------------------------
    def _audit(self, entry: dict[str, Any]) -> None:
        """Append one JSON line, chained to the previous line's SHA3 (tamper-evident)."""
        with self._audit_lock:
            prev = "0" * 64
            if self.audit_path.exists():
                with open(self.audit_path, "rb") as fh:
                    try:
                        fh.seek(-4096, os.SEEK_END)
                    except OSError:
                        fh.seek(0)
                    lines = fh.read().splitlines()
                    if lines:
                        prev = sha3(lines[-1]).hex()
            line = json.dumps({"ts": round(time.time(), 3), "prev": prev, **entry},
                              separators=(",", ":"), sort_keys=True)
            fd = os.open(self.audit_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    # -- decryption --------------------------------------------------------------------------
    async def decrypt_request(self, request: Request) -> Response:
        """Admit the aggregator (401/403/429, body unread), then read the body and decrypt."""
        keys: dict[str, bytes] = {}

        async def enrolled(aggregator_id: str) -> bool:
            raw = await to_thread.run_sync(self.store.aggregator_key, aggregator_id)
            if raw is None:
                self.decryptions.labels("not_enrolled").inc()
                return False
            keys[aggregator_id] = raw
            return True

        sender = await admit_upload(request, self.uploads, enrolled, "unknown aggregator")
        try:
            body = await read_body(request, self.settings.max_body_bytes,
                                   self.settings.body_timeout_s)
            return await self._decrypt_body(request, sender, keys[sender], body)
        finally:
            self.uploads.release(sender)

    async def _decrypt_body(self, request: Request, sender: str, raw_vk: bytes,
                            body: bytes) -> Response:
        _sender, ts = sender_headers(request)
        plaintext = await to_thread.run_sync(
            lambda: open_sealed_body(request, self.kem_sk, sender, ts, body))
        t0 = time.perf_counter()
        try:
            result = await to_thread.run_sync(self._decrypt, plaintext, sender, ts,
                                              VerifyKey.from_bytes(raw_vk))
        except ApiError as exc:
            self.decryptions.labels(exc.reason).inc()
            self._audit({"event": "refused", "aggregator_id": sender, "reason": exc.reason,
                         "detail": exc.detail[:300]})
            log.warning("decryption refused", extra={"fields": {
                "aggregator_id": sender, "reason": exc.reason, "detail": exc.detail[:300]}})
            raise
        self.decrypt_seconds.observe(time.perf_counter() - t0)
        meta, parts = result
        self.decryptions.labels("replayed" if meta.get("replayed") else "decrypted").inc()
        return sealed_response(request, meta, parts)

    def _decrypt(self, plaintext: bytes, sender: str, ts: int,
                 agg_vk: VerifyKey) -> tuple[dict[str, Any], dict[str, bytes]]:
        try:
            env = decode_envelope(plaintext)
            meta = env.meta
            agg_id = meta_str(meta, "aggregator_id", 128)
            round_id = meta_int(meta, "round_id", 1, 2**31 - 1)
            params_name = meta_str(meta, "params", 64)
            d = meta_int(meta, "d", 1, 10**9)
            k = meta_int(meta, "k", 1, 10**6)
            k_min = meta_int(meta, "k_min", 1, 10**6)
            mts = meta_int(meta, "timestamp", -(2**62), 2**62)
            nonce = meta_str(meta, "nonce", 64)
            entries = meta.get("entries")
            agg_sig = env.part("aggregator_signature")
            if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
                raise EnvelopeError("entries must be a list")
        except EnvelopeError as exc:
            raise ApiError(422, "malformed", str(exc)) from None
        if agg_id != sender or mts != ts:
            raise ApiError(422, "bad_signature", "signed aggregator id/timestamp differ from "
                           "the headers")
        parts = {n: v for n, v in env.parts.items() if n != "aggregator_signature"}
        try:
            agg_vk.verify(agg_sig, ka_request_message(canonical_json_digest(meta),
                                                      parts_digest(parts)), CTX_KA_REQUEST)
        except SignatureError:
            raise ApiError(422, "bad_signature", "aggregator signature does not verify") from None
        check_timestamp(ts, self.settings.timestamp_window_s)
        if not self.store.use_nonce(sender, nonce):
            raise ApiError(422, "replay", "this signed request was already used")
        if params_name != self.params.name:
            raise ApiError(422, "wrong_params", f"this key authority holds {self.params.name}")
        if k != -(-d // self.params.n):
            raise ApiError(422, "malformed", "k does not match d")

        # Each entry: a distinct enrolled client whose signature covers this ciphertext.
        parsed = []
        seen: set[str] = set()
        for i, e in enumerate(entries):
            try:
                if not isinstance(e, dict):
                    raise EnvelopeError("entry must be an object")
                cid = meta_str(e, "client_id", 128)
                ets = meta_int(e, "timestamp", -(2**62), 2**62)
                enonce = meta_str(e, "nonce", 64)
                proof_hash = bytes.fromhex(meta_str(e, "proof_hash", 64))
                if len(proof_hash) != 32:
                    raise EnvelopeError("proof_hash must be 32 bytes")
                ct = env.part(meta_str(e, "ciphertexts", 64))
                sig = env.part(meta_str(e, "signature", 64))
            except (EnvelopeError, ValueError) as exc:
                raise ApiError(422, "malformed", f"entry {i}: {exc}") from None
            if cid in seen:
                raise ApiError(422, "duplicate_client", f"client {cid} appears twice")
            seen.add(cid)
            parsed.append((cid, ets, enonce, proof_hash, ct, sig))
        need = max(k_min, self.settings.min_clients)
        if len(parsed) < need:
            raise ApiError(422, "too_few_clients",
                           f"{len(parsed)} signed ciphertext(s), at least {need} required")
        keys = self.store.client_keys([p[0] for p in parsed])
        unknown = sorted(p[0] for p in parsed if p[0] not in keys)
        if unknown:
            # All of them at once: the aggregator leaves them out and asks again.
            raise ApiError(422, "unknown_client",
                           f"{len(unknown)} client(s) not enrolled here: {', '.join(unknown)}",
                           extra={"client_ids": unknown})
        deployment = fingerprint(self.signing_key)
        digests = []
        ct_hashes = []
        for cid, ets, enonce, proof_hash, ct, sig in parsed:
            ct_hash = sha3(ct)
            digest = update_digest_from_hashes(ct_hash, proof_hash)
            # Recomputed from the requester's identity, this key authority's fingerprint
            # and the requested K_min: a signature made for another aggregator, another
            # deployment or a larger K_min does not verify.
            message = update_signing_message(cid, round_id, digest, ets, enonce,
                                             aggregator_id=agg_id, deployment=deployment,
                                             k_min=k_min)
            try:
                VerifyKey.from_bytes(keys[cid]).verify(sig, message, CTX_UPDATE)
            except SignatureError:
                raise ApiError(422, "bad_signature",
                               f"client {cid}'s signature does not cover this ciphertext "
                               "(tampered or substituted)") from None
            digests.append((cid, digest.hex()))
            ct_hashes.append(ct_hash.hex())
        request_digest = sha3(json.dumps({"aggregator_id": agg_id, "round_id": round_id,
                                          "d": d, "updates": sorted(digests)},
                                         sort_keys=True).encode())
        client_ids = sorted(seen)

        # Decode everything before claiming the round, so a malformed ciphertext does not
        # burn the round's single decryption.
        cts = []
        for cid, _ets, _n, _ph, ct, _sig in parsed:
            try:
                c = decode_ciphertexts(ct, self.params, max_chunks=k)
            except BfvDecodeError as exc:
                raise ApiError(422, "malformed", f"ciphertexts of {cid}: {exc}") from None
            if len(c) != k:
                raise ApiError(422, "malformed", f"ciphertexts of {cid}: expected {k} chunks")
            cts.append(c)

        outcome, prior = self.store.claim_round(agg_id, round_id, request_digest.hex(),
                                                client_ids, ct_hashes)
        if outcome == "other":
            raise ApiError(409, "already_decrypted",
                           f"round {round_id} of {agg_id} was already decrypted")
        if outcome == "reused":
            # Differencing: two sums sharing ciphertexts reveal their difference.
            raise ApiError(409, "ciphertext_reused",
                           "a ciphertext in this request was already part of another "
                           "decryption; each update is decrypted at most once, in one sum")
        if outcome == "same" and prior is not None and prior["result"] is not None:
            sum_bytes = prior["result"]
            n = prior["n_summed"]
            sig = prior["signature"]
            self._audit({"event": "replayed", "aggregator_id": agg_id, "round_id": round_id,
                         "request_digest": request_digest.hex()})
            return ({"round_id": round_id, "aggregator_id": agg_id, "n_summed": n, "d": d,
                     "request_digest": request_digest.hex(), "sum_digest": sha3(sum_bytes).hex(),
                     "client_ids": client_ids, "replayed": True},
                    {"sum": sum_bytes, "signature": sig})
        t0 = time.perf_counter()
        total = sum_ciphertexts(iter(cts))
        plain = decrypt(self.sk, total).reshape(-1)[:d]
        sum_bytes = encode_int_vector(np.asarray(plain, dtype=np.int64))
        n = len(parsed)
        sig = self.signing_key.sign(ka_result_message(agg_id, round_id, request_digest,
                                                      sha3(sum_bytes), n), CTX_KA_RESULT)
        self.store.finish_round(agg_id, round_id, sum_bytes, sha3(sum_bytes).hex(), sig)
        ms = round((time.perf_counter() - t0) * 1000, 1)
        self._audit({"event": "decrypted", "aggregator_id": agg_id, "round_id": round_id,
                     "n_summed": n, "client_ids": client_ids, "d": d,
                     "updates": sorted(digests), "request_digest": request_digest.hex(),
                     "sum_digest": sha3(sum_bytes).hex()})
        log.info("round decrypted", extra={"fields": {"aggregator_id": agg_id,
                                                     "round_id": round_id, "n_summed": n,
                                                     "sum_decrypt_ms": ms}})
        return ({"round_id": round_id, "aggregator_id": agg_id, "n_summed": n, "d": d,
                 "request_digest": request_digest.hex(), "sum_digest": sha3(sum_bytes).hex(),
                 "client_ids": client_ids, "replayed": False},
                {"sum": sum_bytes, "signature": sig})
