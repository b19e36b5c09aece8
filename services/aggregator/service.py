"""The aggregator's state and logic; the routers in :mod:`.routers` are thin wrappers."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from anyio import to_thread
from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from zkflpq.bfv import BfvParams, Encoder, get_params, norm_bound
from zkflpq.fl.adaptive_tau import AdaptiveTau, AggregateObservation
from zkflpq.pq import DecodeError, SignatureError, VerifyKey, fingerprint
from zkflpq.protocol import (
    CTX_UPDATE,
    PROTOCOL_VERSION,
    EnvelopeError,
    b64e,
    client_id_for,
    decode_float_vector,
    encode_float_vector,
    meta_hex,
    meta_int,
    meta_str,
    sha3,
    submission_key,
    update_digest_from_hashes,
    update_signing_message,
)
from zkflpq.zk import zk_params_for

from ..common.auth import (
    OpenedRequest,
    check_timestamp,
    open_client_request,
    verify_request_signature,
)
from ..common.http import ApiError, read_body, sealed_response
from ..common.keys import KEM_ALGS, admin_token, load_or_create_kem, load_or_create_signing
from ..common.limits import UploadSlots, admit_upload
from ..common.settings import AggregatorSettings
from .db import RoundInfo, Store
from .ka_client import KaError, KaInfo, KeyAuthorityClient
from .verifier import VerificationPool

__all__ = ["AggregatorService"]

log = logging.getLogger("zkflpq.aggregator")

# HTTP status of each content verdict (stored with the verdict, so a retry gets the same)
VERDICT_STATUS = {"accepted": 202, "duplicate": 409}


def _decryptable_clients(info: RoundInfo) -> int:
    """K_max of a round: proven updates of its size whose sum provably decrypts."""
    return zk_params_for(get_params(info.params_name)).bounds(info.k, info.bound).max_clients


def _smallest_usable_tau(params: BfvParams, scale: float, d: int) -> float:
    """About the least τ whose B = floor(τ·scale) is ≥ 1 and above the rounding error
    bound for d (below it nothing can be encoded): the advice in a τ-too-small error."""
    rounding = Encoder(params, scale).rounding_error_bound(d)
    return (math.floor(rounding) + 1) / scale


def _bound_too_small(params: BfvParams, scale: float, tau: float, d: int) -> bool:
    bound = norm_bound(tau, scale)
    return bound < 1 or bound <= Encoder(params, scale).rounding_error_bound(d)


def _round_encoding(params: BfvParams, scale: float, tau: float, d: int, k_min: int, *,
                    rule: AdaptiveTau | None = None) -> tuple[Encoder, int]:
    """The round's encoder and bound B = floor(τ·scale), or a 422 invalid_params: B must
    be ≥ 1, above the rounding error, below t/2 and the proof's no-wrap limit, d within the
    largest statement one proof can soundly cover (ZkParams.max_chunks), and K_max ≥ k_min.
    With ``rule`` (τ from the adaptive rule) a τ too small says which setting to raise."""
    if rule is not None and _bound_too_small(params, scale, tau, d):
        raise ApiError(422, "invalid_params",
                       f"the adaptive rule gives τ = {tau:.6g}, so B = floor(τ·scale) = "
                       f"{norm_bound(tau, scale)} is too small for d = {d}: raise "
                       f"tau_rule.floor to at least {_smallest_usable_tau(params, scale, d):.6g}"
                       f" or raise scale (now {scale:g})")
    try:
        enc = Encoder(params, scale, tau)
        enc.clip_radius(d)
        assert enc.bound is not None
        zk_params_for(params).bounds(enc.num_chunks(d), int(enc.bound))  # no-wrap, binding size
    except ValueError as exc:
        where = "" if rule is None else f"the adaptive rule's τ = {tau:.6g}: "
        raise ApiError(422, "invalid_params", where + str(exc)) from None
    bound = int(enc.bound)
    k_max = zk_params_for(params).bounds(enc.num_chunks(d), bound).max_clients
    if k_min > k_max:
        where = "" if rule is None else f" at the adaptive rule's τ = {tau:.6g}"
        raise ApiError(422, "invalid_params", f"k_min exceeds K_max = {k_max}{where}")
    return enc, bound


def _check_rule_range(params: BfvParams, scale: float, rule: AdaptiveTau, d: int,
                      k_min: int) -> None:
    """422 when no τ in [floor, ceiling] can open the round, without the history: a too
    small B only gets worse as τ falls, and every other limit (B < t/2, no-wrap, K_max)
    only gets worse as τ grows."""
    if _bound_too_small(params, scale, rule.ceiling, d):
        raise ApiError(422, "invalid_params",
                       f"tau_rule.ceiling = {rule.ceiling:g} gives B = floor(τ·scale) = "
                       f"{norm_bound(rule.ceiling, scale)}, too small for d = {d}, and the "
                       f"rule never goes above it: raise tau_rule.ceiling to at least "
                       f"{_smallest_usable_tau(params, scale, d):.6g} or raise scale "
                       f"(now {scale:g})")
    if not _bound_too_small(params, scale, rule.floor, d):
        try:
            _round_encoding(params, scale, rule.floor, d, k_min)
        except ApiError as exc:
            raise ApiError(422, "invalid_params", f"even at tau_rule.floor = "
                           f"{rule.floor:g}, the least τ the rule gives: {exc.detail}") from None


@dataclass
class Metrics:
    submissions: Counter
    verify_seconds: Histogram
    queue_depth: Gauge
    rounds: Counter
    round_accepted: Gauge
    rejected_429: Counter


def _metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics(
        submissions=Counter("zkflpq_submissions_total", "update verdicts",
                            ["verdict", "reason"], registry=registry),
        verify_seconds=Histogram("zkflpq_verify_seconds", "proof verification time",
                                 registry=registry,
                                 buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32)),
        queue_depth=Gauge("zkflpq_verify_in_flight", "submissions verifying or queued",
                          registry=registry),
        rounds=Counter("zkflpq_rounds_total", "rounds by final state", ["state"],
                       registry=registry),
        round_accepted=Gauge("zkflpq_round_accepted", "accepted updates in the open round",
                             registry=registry),
        rejected_429=Counter("zkflpq_queue_full_total", "submissions refused with 429",
                             registry=registry),
    )


class AggregatorService:
    def __init__(self, settings: AggregatorSettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        data = Path(settings.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.data_dir = data
        self.kem_sk = load_or_create_kem(data / "aggregator.kem", KEM_ALGS[settings.kem])
        self.signing_key = load_or_create_signing(data / "aggregator.sig")
        self.aggregator_id = settings.aggregator_id or (
            "aggregator-" + fingerprint(self.signing_key)[:16])
        self.instance_id = settings.instance_id or f"{socket.gethostname()}:{settings.port}"
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        self.admin_token = admin_token(data, token)
        url = settings.database_url or f"sqlite:///{(data / 'aggregator.sqlite3').resolve()}"
        self.store = Store(url)
        self.ka = KeyAuthorityClient(settings.key_authority_url, data,
                                     settings.key_authority_fingerprint,
                                     settings.key_authority_timeout_s,
                                     settings.key_authority_ca_file)
        self.ka_info: KaInfo | None = None
        self.pool: VerificationPool | None = None
        self.metrics = _metrics(registry)
        self._keys: dict[str, VerifyKey] = {}
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._close_lock = asyncio.Lock()
        self._warm: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self.uploads = UploadSlots(settings.max_uploads_per_sender)

    # -- lifecycle -----------------------------------------------------------------------
    async def startup(self) -> None:
        await to_thread.run_sync(self.store.create_all)
        dropped = await to_thread.run_sync(self.store.cleanup_instance, self.instance_id)
        self.ka_info = await to_thread.run_sync(self.ka.load)
        self.pool = VerificationPool(self.settings.verify_executor, self.settings.verify_workers,
                                     self.settings.verify_queue, self.ka_info.params.name)
        self.pool.start()
        # Warm the workers up in the background: the service is ready at once, and the
        # first verification simply waits for its worker's imports if they are not done.
        self._warm = asyncio.create_task(self.pool.warm_up())
        self._pruner = asyncio.create_task(self._prune_nonces())
        log.info("aggregator ready", extra={"fields": {
            "aggregator_id": self.aggregator_id, "instance_id": self.instance_id,
            "params": self.ka_info.params.name, "kem": self.kem_sk.algorithm.label,
            "database": self.store.engine.url.get_backend_name(),
            "verify_executor": self.settings.verify_executor,
            "verify_workers": self.settings.verify_workers, "dropped_pending": dropped}})

    async def _prune_nonces(self) -> None:
        """Nonces older than twice the timestamp window can no longer be replayed (their
        timestamps are stale), so drop them every few minutes."""
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
        if self.pool is not None:
            self.pool.shutdown()
        self.store.dispose()

    # -- helpers -------------------------------------------------------------------------
    def client_key(self, client_id: str) -> VerifyKey | None:
        vk = self._keys.get(client_id)
        if vk is None:
            raw = self.store.client_key(client_id)
            if raw is None:
                return None
            vk = VerifyKey.from_bytes(raw)
            self._keys[client_id] = vk
        return vk

    async def open_client(self, request: Request, body: bytes | None) -> OpenedRequest:
        # Enrolment lookup may hit the database: do it in a thread.
        sender = request.headers.get("x-zkflpq-sender") or ""
        if sender and sender not in self._keys:
            await to_thread.run_sync(self.client_key, sender)
        if body is not None and len(body) > 65536:  # AES-GCM over megabytes: off the loop
            return await to_thread.run_sync(open_client_request, request, self.kem_sk, body,
                                            self._keys.get)
        return open_client_request(request, self.kem_sk, body, self._keys.get)

    async def authenticate_client(self, request: Request) -> OpenedRequest:
        """Sealed + signed non-update request (GETs carry it in a header)."""
        opened = await self.open_client(request, None)
        nonce = verify_request_signature(request, opened, self.settings.timestamp_window_s)
        fresh = await to_thread.run_sync(self.store.use_nonce, opened.sender, nonce)
        if not fresh:
            raise ApiError(422, "replay", "this signed request was already used")
        return opened

    def params_document(self) -> dict[str, Any]:
        ka = self.ka_info
        assert ka is not None
        return {
            "protocol_version": PROTOCOL_VERSION,
            "aggregator_id": self.aggregator_id,
            "params": ka.params.name,
            "params_id": ka.params.id_bytes.hex(),
            "insecure": ka.params.insecure,
            "n": ka.params.n,
            "bfv_public_key": ka.raw["bfv_public_key"],
            "bfv_public_key_signature": ka.raw["bfv_public_key_signature"],
            "kem": {"algorithm": self.kem_sk.algorithm.name,
                    "public_key": b64e(self.kem_sk.public_key().to_bytes())},
            "signing_key": b64e(self.signing_key.verify_key().to_bytes()),
            "key_authority": {"signing_key": ka.raw["signing_key"], "kem": ka.raw["kem"],
                              "fingerprint": ka.fingerprint},
            "fingerprints": {"kem": fingerprint(self.kem_sk),
                             "signing_key": fingerprint(self.signing_key),
                             "key_authority": ka.fingerprint},
            "max_body_bytes": self.settings.max_body_bytes,
            "timestamp_window_s": self.settings.timestamp_window_s,
        }

    # -- admin: clients and rounds --------------------------------------------------------
    async def enrol(self, public_key_b64: str, label: str) -> dict[str, Any]:
        from zkflpq.protocol import b64d

        try:
            vk = VerifyKey.from_bytes(b64d(public_key_b64))
        except (ValueError, DecodeError) as exc:  # KeyLengthError is both
            raise ApiError(422, "malformed", f"public_key: {exc}") from None
        client_id = client_id_for(vk)
        try:
            created = await to_thread.run_sync(self.store.enrol_client, client_id, vk.to_bytes(),
                                               vk.fingerprint(), label)
        except ValueError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        self._keys[client_id] = vk
        log.info("client enrolled", extra={"fields": {"client_id": client_id,
                                                     "new": created}})
        return {"client_id": client_id, "fingerprint": vk.fingerprint(), "created": created}

    async def open_round(self, body: Any) -> RoundInfo:
        ka = self.ka_info
        assert ka is not None
        params = ka.params
        if body.model is not None:
            from zkflpq.protocol import b64d

            try:
                vec = decode_float_vector(b64d(body.model.vector), body.model.d)
            except (ValueError, EnvelopeError) as exc:
                raise ApiError(422, "malformed", f"model: {exc}") from None
            layout = body.model.layout or ""
            d = body.model.d
        else:
            prev = await to_thread.run_sync(self.store.latest_model)
            if prev is None:
                raise ApiError(422, "model_required", "the first round needs an initial model")
            raw, layout, d = prev
            vec = np.frombuffer(raw, dtype="<f4")
        rule: AdaptiveTau | None = None
        tau_source: dict[str, Any] | None = None
        if body.tau == "auto":
            rule = body.adaptive_tau_rule()
            # Before reading past rounds' models: a rule none of whose τ values can work.
            _check_rule_range(params, body.scale, rule, d, body.k_min)
            observations = await to_thread.run_sync(self._tau_observations, rule, d)
            tau = rule.next_tau(AggregateObservation(o["mean_update_norm"], o["n_accepted"])
                                for o in observations)
            tau_source = {"rule": rule.to_dict(), "observations": observations, "tau": tau}
        else:
            tau = float(body.tau)
        enc, bound = _round_encoding(params, body.scale, tau, d, body.k_min, rule=rule)
        model = encode_float_vector(vec)
        deadline = time.time() + body.deadline_s if body.deadline_s else None
        try:
            info = await to_thread.run_sync(lambda: self.store.open_round(
                params_name=params.name, tau=tau, scale=float(body.scale),
                bound=bound, d=d, k=enc.num_chunks(d), layout=layout,
                k_min=body.k_min, deadline=deadline, model=model, model_digest=sha3(model).hex(),
                tau_source=tau_source))
        except ValueError:
            raise ApiError(409, "round_open", "a round is already open") from None
        self.metrics.round_accepted.set(0)
        log.info("round opened", extra={"fields": {
            "round_id": info.id, "d": d, "k": info.k, "bound": info.bound, "k_min": info.k_min,
            "tau": tau, "tau_auto": tau_source is not None,
            "tau_observations": [o["round_id"] for o in (tau_source or {}).get(
                "observations", [])]}})
        return info

    def _tau_observations(self, rule: AdaptiveTau, d: int) -> list[dict[str, Any]]:
        """What the adaptive rule sees: for each of the last ``rule.window`` closed rounds
        of this model size, oldest first, ‖published − start‖₂ of its two stored float32
        models (what any client can recompute from the models it downloads) and its K.
        One round's two models are in memory at a time."""
        out: list[dict[str, Any]] = []
        for round_id, n_summed in self.store.closed_rounds_of_size(d, rule.window):
            start = self.store.round_model(round_id, "start")
            result = self.store.round_model(round_id, "result")
            if start is None or result is None or n_summed < 1:
                continue
            delta = (np.frombuffer(result, dtype="<f4").astype(np.float64)
                     - np.frombuffer(start, dtype="<f4").astype(np.float64))
            norm = float(np.linalg.norm(delta))
            if not math.isfinite(norm):
                # A published model with an inf/NaN says nothing about honest norms.
                log.warning("round skipped by the adaptive τ rule", extra={"fields": {
                    "round_id": round_id, "reason": "non-finite model change"}})
                continue
            out.append({"round_id": round_id, "mean_update_norm": norm,
                        "n_accepted": n_summed})
        return out

    async def round_status(self, round_id: int) -> dict[str, Any]:
        info = await to_thread.run_sync(self.store.get_round, round_id)
        if info is None:
            raise ApiError(404, "not_found", f"no round {round_id}")
        counts = await to_thread.run_sync(self.store.round_counts, round_id)
        out = info.public()
        out.update(counts)
        out["failure"] = info.failure
        out["close"] = info.close_info
        return out

    # -- rounds: close ------------------------------------------------------------------
    async def close_round(self, round_id: int) -> dict[str, Any]:
        async with self._close_lock:
            return await self._close_round(round_id)

    async def _close_round(self, round_id: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        info = await to_thread.run_sync(self.store.begin_close, round_id)
        if info is None:
            raise ApiError(404, "not_found", f"no round {round_id}")
        if info.state in ("closed", "failed"):
            raise ApiError(409, "round_not_open", f"round {round_id} is already {info.state}")
        # Updates still verifying may yet be accepted (they checked the state before the
        # close began); their accept re-checks the state, so wait for them to settle.
        for _ in range(int(self.settings.retry_wait_s * 10)):
            if await to_thread.run_sync(self.store.pending_count, round_id) == 0:
                break
            await asyncio.sleep(0.1)
        info = await to_thread.run_sync(self.store.get_round, round_id)
        assert info is not None
        rows = await to_thread.run_sync(lambda: list(self.store.iter_accepted(round_id)))
        timings: dict[str, float] = {"settle_ms": round((time.perf_counter() - t0) * 1000, 1)}
        if len(rows) < info.k_min:
            reason = f"only {len(rows)} accepted update(s), K_min = {info.k_min}"
            done = await to_thread.run_sync(lambda: self.store.finish_round(
                round_id, state="failed", failure=reason,
                close_info={"accepted": len(rows), "timings": timings}))
            self.metrics.rounds.labels("failed").inc()
            log.warning("round failed", extra={"fields": {"round_id": round_id,
                                                         "reason": reason}})
            return {"round_id": round_id, "state": done.state, "failure": reason,
                    "accepted": len(rows)}
        k_cap = _decryptable_clients(info)
        if len(rows) > k_cap:
            # More proven updates than the noise bound covers (proofs/security.md §2.8):
            # the sum might not decrypt, so it is never sent to the key authority.
            reason = (f"{len(rows)} accepted updates exceed K_max = {k_cap}, the most whose "
                      f"sum provably decrypts at this model size")
            done = await to_thread.run_sync(lambda: self.store.finish_round(
                round_id, state="failed", failure=reason,
                close_info={"accepted": len(rows), "timings": timings}))
            self.metrics.rounds.labels("failed").inc()
            return {"round_id": round_id, "state": done.state, "failure": reason,
                    "accepted": len(rows)}
        t1 = time.perf_counter()
        excluded: list[dict[str, str]] = []
        while True:
            try:
                vec_sum, ka_info = await to_thread.run_sync(functools.partial(
                    self.ka.decrypt, aggregator_id=self.aggregator_id,
                    signing_key=self.signing_key, round_id=round_id, d=info.d, k=info.k,
                    k_min=info.k_min, rows=rows))
                break
            except KaError as exc:
                if exc.status >= 500 or exc.status in (0, 429):
                    # Unreachable / broken / busy: stay "closing" so the admin can retry.
                    raise ApiError(503, exc.reason, f"key authority: {exc.detail}",
                                   headers={"Retry-After": "5"}) from None
                named = set(exc.client_ids) & {r.client_id for r in rows}
                if exc.reason == "unknown_client" and named and not excluded:
                    # Clients the key authority does not know cost their own update only,
                    # never the honest clients' round (refused before anything is claimed).
                    excluded = [{"client_id": c, "reason": "unknown_client"}
                                for c in sorted(named)]
                    rows = [r for r in rows if r.client_id not in named]
                    log.warning("updates excluded at close", extra={"fields": {
                        "round_id": round_id, "excluded": sorted(named)}})
                    if len(rows) >= info.k_min:
                        continue
                    failure = (f"only {len(rows)} update(s) from clients the key authority "
                               f"knows, K_min = {info.k_min}")
                    status = 409
                else:
                    failure = f"key authority refused: {exc.reason}: {exc.detail}"
                    status = 502
                await to_thread.run_sync(functools.partial(
                    self.store.finish_round, round_id, state="failed", failure=failure,
                    close_info={"accepted": len(rows) + len(excluded), "excluded": excluded,
                                "timings": timings}))
                self.metrics.rounds.labels("failed").inc()
                if status == 409:
                    return {"round_id": round_id, "state": "failed", "failure": failure,
                            "accepted": len(rows) + len(excluded), "excluded": excluded}
                raise ApiError(502, "key_authority_refused", failure) from None
        timings["decrypt_ms"] = round((time.perf_counter() - t1) * 1000, 1)
        t2 = time.perf_counter()
        n = int(ka_info["n_summed"])
        prev = await to_thread.run_sync(self.store.round_model, round_id, "start")
        assert prev is not None
        mean = vec_sum.astype(np.float64) / (info.scale * n)
        new = (np.frombuffer(prev, dtype="<f4").astype(np.float64) + mean).astype(np.float32)
        blob = encode_float_vector(new)
        timings["publish_ms"] = round((time.perf_counter() - t2) * 1000, 1)
        timings["close_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        close_info = {"accepted": len(rows) + len(excluded), "excluded": excluded,
                      "n_summed": n, "clients": ka_info["client_ids"],
                      "request_digest": ka_info["request_digest"], "timings": timings,
                      "mean_update_norm": float(np.linalg.norm(mean))}
        done = await to_thread.run_sync(lambda: self.store.finish_round(
            round_id, state="closed", result_model=blob, result_digest=sha3(blob).hex(),
            close_info=close_info))
        self.metrics.rounds.labels("closed").inc()
        log.info("round closed", extra={"fields": {"round_id": round_id, "n_summed": n,
                                                  **timings}})
        return {"round_id": round_id, "state": done.state, "accepted": len(rows) + len(excluded),
                "excluded": excluded, "n_summed": n, "result_digest": done.result_digest,
                "timings": timings}

    # -- client: model ---------------------------------------------------------------------
    async def model_response(self, request: Request, round_id: int) -> Response:
        opened = await self.authenticate_client(request)
        info = await to_thread.run_sync(self.store.get_round, round_id)
        if info is None:
            raise ApiError(404, "not_found", f"no round {round_id}")
        stage = request.query_params.get("stage", "start")
        if stage not in ("start", "result"):
            raise ApiError(422, "malformed", "stage must be 'start' or 'result'")
        blob = await to_thread.run_sync(self.store.round_model, round_id, stage)
        if blob is None:
            raise ApiError(404, "not_found", f"round {round_id} has no {stage} model")
        log.info("model served", extra={"fields": {"round_id": round_id,
                                                  "client_id": opened.sender}})
        return sealed_response(request, {"round_id": round_id, "d": info.d,
                                         "layout": info.layout, "dtype": "float32-le",
                                         "stage": stage, "digest": sha3(blob).hex()},
                               {"model": blob})

    # -- client: updates -------------------------------------------------------------------
    async def _enrolled(self, client_id: str) -> bool:
        if client_id in self._keys:
            return True
        return await to_thread.run_sync(self.client_key, client_id) is not None

    async def submit(self, request: Request, round_id: int) -> Response:
        """Admit the sender (401/403/429, body unread), then read and process the body."""
        t_start = time.perf_counter()
        sender = await admit_upload(request, self.uploads, self._enrolled, "unknown client id")
        try:
            body = await read_body(request, self.settings.max_body_bytes,
                                   self.settings.body_timeout_s)
            return await self._submit(request, round_id, body, t_start)
        finally:
            self.uploads.release(sender)

    async def _submit(self, request: Request, round_id: int, body: bytes,
                      t_start: float) -> Response:
        opened = await self.open_client(request, body)
        env = opened.envelope
        client_id = opened.sender
        try:
            meta_client = meta_str(env.meta, "client_id", 128)
            meta_round = meta_int(env.meta, "round_id", 0, 2**62)
            ts = meta_int(env.meta, "timestamp", -(2**62), 2**62)
            nonce = meta_str(env.meta, "nonce", 64)
            signed_k_min = meta_int(env.meta, "k_min", 1, 10**6)
            ct = env.part("ciphertexts")
            proof = env.part("proof")
            sig = env.part("signature")
            digest_claim = meta_hex(env.meta, "digest", 32) if "digest" in env.meta else None
        except EnvelopeError as exc:
            raise ApiError(422, "malformed", str(exc)) from None
        # The proof's hash is also what the store and the key authority keep: hash the
        # 11 MB proof once per submission.
        ct_hash, proof_hash = await to_thread.run_sync(lambda: (sha3(ct), sha3(proof)))
        digest = update_digest_from_hashes(ct_hash, proof_hash)
        async def refuse(status: int, reason: str, detail: str) -> ApiError:
            await to_thread.run_sync(lambda: self.store.audit_rejection(
                reason=reason, detail=detail, http_status=status, digest=digest.hex(),
                round_id=round_id, client_id=client_id, ct_bytes=len(ct),
                proof_bytes=len(proof), instance_id=self.instance_id))
            self.metrics.submissions.labels("rejected", reason).inc()
            return ApiError(status, reason, detail)

        if meta_client != client_id or ts != opened.timestamp:
            raise await refuse(422, "bad_signature",
                               "signed client id/timestamp differ from the headers")
        if digest_claim is not None and digest_claim != digest:
            raise await refuse(422, "malformed", "digest field does not match the payload")
        try:
            assert self.ka_info is not None
            opened.verify_key.verify(sig, update_signing_message(
                client_id, meta_round, digest, ts, nonce, aggregator_id=self.aggregator_id,
                deployment=self.ka_info.fingerprint, k_min=signed_k_min), CTX_UPDATE)
        except SignatureError:
            raise await refuse(422, "bad_signature",
                               "ML-DSA-65 signature does not verify") from None
        if meta_round != round_id:
            raise await refuse(422, "wrong_round", "signed round id differs from the path")
        idem = submission_key(client_id, round_id, digest)

        # Idempotency: an identical update gets its original verdict.
        existing = await to_thread.run_sync(self.store.get_submission, idem)
        if existing is not None:
            return await self._replay_verdict(request, idem, existing)

        info = await to_thread.run_sync(self.store.get_round, round_id)
        if info is None:
            raise await refuse(422, "wrong_round", f"no round {round_id}")
        if info.state != "open":
            raise await refuse(422, "round_closed", f"round {round_id} is {info.state}")
        if info.deadline is not None and time.time() > info.deadline:
            raise await refuse(422, "round_closed", "the round's deadline has passed")
        if signed_k_min != info.k_min:
            # The key authority sums it only with K_min as signed: accepting it would leave
            # the round with an update that cannot be decrypted with the others.
            raise await refuse(422, "wrong_k_min", f"the update is signed for K_min = "
                               f"{signed_k_min}, round {round_id} has K_min = {info.k_min}")
        try:
            check_timestamp(ts, self.settings.timestamp_window_s)
        except ApiError as exc:
            raise await refuse(exc.status, exc.reason, exc.detail) from None
        if len(proof) > self.settings.max_proof_bytes:
            raise await refuse(413, "too_large", "proof exceeds the size limit")

        if await to_thread.run_sync(self.store.accepted_exists, round_id, client_id):
            claim = await to_thread.run_sync(lambda: self.store.claim(
                idem_key=idem, digest=digest.hex(), round_id=round_id, client_id=client_id,
                nonce=nonce, ct_bytes=len(ct), proof_bytes=len(proof),
                instance_id=self.instance_id))
            if claim.outcome == "claimed":
                v = await to_thread.run_sync(lambda: self.store.reject(
                    idem, reason="duplicate", detail="this client already has an accepted "
                    "update in this round", http_status=409, verify_ms=None, total_ms=None))
                return self._verdict_response(request, v)
            if claim.outcome == "exists":
                return await self._replay_verdict(request, idem, claim.existing or {})
            raise await refuse(422, "replay", "nonce already used")

        rejected = await to_thread.run_sync(self.store.verified_rejections, round_id, client_id)
        if rejected >= self.settings.max_rejected_per_client:
            # A well-formed garbage proof costs a full verification: bound what one
            # enrolled client can make the aggregator spend per round.
            raise await refuse(403, "attempts_exhausted",
                               f"{rejected} proofs of this client were rejected in round "
                               f"{round_id} (limit {self.settings.max_rejected_per_client})")
        assert self.pool is not None
        if not self.pool.try_acquire():
            self.metrics.rejected_429.inc()
            raise ApiError(429, "queue_full", "verification queue is full; retry later",
                           headers={"Retry-After": "1"})
        self.metrics.queue_depth.set(self.pool.in_flight)
        try:
            claim = await to_thread.run_sync(lambda: self.store.claim(
                idem_key=idem, digest=digest.hex(), round_id=round_id, client_id=client_id,
                nonce=nonce, ct_bytes=len(ct), proof_bytes=len(proof),
                instance_id=self.instance_id))
            if claim.outcome == "replay":
                raise await refuse(422, "replay", "nonce already used for another update")
            if claim.outcome == "exists":
                return await self._replay_verdict(request, idem, claim.existing or {})
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiters[idem] = fut
            try:
                verdict = await self._verify_and_store(
                    idem=idem, info=info, client_id=client_id, ct=ct, proof=proof,
                    proof_hash=proof_hash.hex(), sig=sig, ts=ts, nonce=nonce, t_start=t_start)
            except BaseException:
                await to_thread.run_sync(self.store.release_claim, idem)
                if not fut.done():
                    fut.cancel()
                raise
            if not fut.done():
                fut.set_result(verdict)
        finally:
            self._waiters.pop(idem, None)
            self.pool.release()
            self.metrics.queue_depth.set(self.pool.in_flight)
        return self._verdict_response(request, verdict)

    async def _verify_and_store(self, *, idem: str, info: RoundInfo, client_id: str, ct: bytes,
                                proof: bytes, proof_hash: str, sig: bytes, ts: int, nonce: str,
                                t_start: float) -> dict[str, Any]:
        from zkflpq import zk

        assert self.pool is not None and self.ka_info is not None
        context = zk.proof_context(PROTOCOL_VERSION, self.aggregator_id, info.id, client_id)
        t0 = time.perf_counter()
        if self.settings.verify_delay_s:
            await asyncio.sleep(self.settings.verify_delay_s)
        result = await self.pool.verify(info.params_name, self.ka_info.bfv_pk_bytes, ct, proof,
                                        info.bound, info.k, context)
        self.metrics.verify_seconds.observe(time.perf_counter() - t0)
        total_ms = round((time.perf_counter() - t_start) * 1000, 2)
        if result["accepted"]:
            verdict = await to_thread.run_sync(lambda: self.store.accept(
                idem, round_id=info.id, client_id=client_id, ciphertexts=ct,
                proof_hash=proof_hash, timestamp=ts, nonce=nonce, signature=sig,
                verify_ms=result["verify_ms"], total_ms=total_ms))
        else:
            verdict = await to_thread.run_sync(lambda: self.store.reject(
                idem, reason=result["reason"], detail=result["detail"], http_status=422,
                verify_ms=result["verify_ms"], total_ms=total_ms))
        verdict["verify_ms"] = result["verify_ms"]
        verdict["verify_cpu_ms"] = result.get("verify_cpu_ms")
        verdict["total_ms"] = total_ms
        label = "accepted" if verdict["status"] == "accepted" else "rejected"
        self.metrics.submissions.labels(label, verdict["reason"] or "").inc()
        if label == "accepted":
            self.metrics.round_accepted.inc()
        log.info("update verdict", extra={"fields": {
            "round_id": info.id, "client_id": client_id, "verdict": verdict["status"],
            "reason": verdict["reason"], "detail": verdict["detail"],
            "verify_ms": result["verify_ms"], "verify_cpu_ms": result.get("verify_cpu_ms"),
            "total_ms": total_ms, "ct_bytes": len(ct),
            "proof_bytes": len(proof)}})
        return verdict

    async def _replay_verdict(self, request: Request, idem: str,
                              existing: dict[str, Any]) -> Response:
        """Return the stored verdict; if the original is still verifying, wait for it."""
        deadline = time.monotonic() + self.settings.retry_wait_s
        v = existing
        while v.get("status") == "pending":
            fut = self._waiters.get(idem)
            if fut is not None:
                try:
                    v = await asyncio.wait_for(asyncio.shield(fut),
                                               max(0.1, deadline - time.monotonic()))
                    break
                except (TimeoutError, asyncio.CancelledError):
                    pass
            else:
                await asyncio.sleep(0.2)
            got = await to_thread.run_sync(self.store.get_submission, idem)
            if got is None:
                raise ApiError(503, "retry", "the original submission was abandoned; resend",
                               headers={"Retry-After": "1"})
            v = got
            if v.get("status") != "pending":
                break
            if time.monotonic() > deadline:
                # Owner presumed dead (another process that crashed mid-verification):
                # let the client resend into a fresh claim.
                cutoff = time.time() - self.settings.pending_takeover_s
                if await to_thread.run_sync(self.store.takeover, idem, cutoff,
                                            self.instance_id):
                    await to_thread.run_sync(self.store.release_claim, idem)
                raise ApiError(503, "retry", "the original submission is still verifying",
                               headers={"Retry-After": "2"})
        v = dict(v)
        v["replayed"] = True
        return self._verdict_response(request, v)

    def _verdict_response(self, request: Request, v: dict[str, Any]) -> Response:
        status = int(v.get("http_status") or (202 if v.get("status") == "accepted" else 422))
        meta = {"verdict": v["status"], "submission": v.get("submission"),
                "round_id": v.get("round_id"), "client_id": v.get("client_id"),
                "replayed": bool(v.get("replayed", False)),
                "verify_ms": v.get("verify_ms"), "verify_cpu_ms": v.get("verify_cpu_ms"),
                "total_ms": v.get("total_ms")}
        if v["status"] != "accepted":
            meta["error"] = v.get("reason")
            meta["detail"] = v.get("detail")
        headers = {"X-Zkflpq-Reason": str(v.get("reason") or "accepted")}
        return sealed_response(request, meta, status=status, headers=headers)


def env_or(value: str | None, name: str) -> str | None:
    return value if value is not None else os.environ.get(name)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
