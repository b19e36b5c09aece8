"""ServerApp side: a strategy wrapper that sums only verified, encrypted updates.

``ZkflpqStrategy(FedAvg(...), key_authority, k_min=3, tau=5.0)`` in place of the plain
strategy (the pattern of Flower's ``DifferentialPrivacyClientSideFixedClipping``):

1. ``configure_train`` adds the zkflpq round configuration (:mod:`.wire`) to the inner
   strategy's train messages and remembers the global arrays.
2. ``aggregate_train`` checks every reply — structure, size, client identity and node
   binding, round, K_min, ML-DSA signature — and verifies its norm proof in a worker pool
   (:func:`zkflpq.zkbridge.verify_submission`, the REST aggregator's verifier). Each
   rejection is recorded with its reason, with the REST service's reason codes
   (``malformed``, ``too_large``, ``wrong_round``, ``wrong_k_min``, ``bad_signature``,
   ``unknown_client``, ``duplicate``, ``norm_bound``, ``proof_invalid``) plus two that only a
   Flower reply can have: ``missing`` (no zkflpq record) and ``identity_mismatch`` (a node
   signing as another node's client).
3. With ≥ K_min accepted updates the key authority decrypts their sum (it recomputes the
   sum itself from the signed ciphertexts); below K_min nothing is sent to it and the
   global model stays as it was. The decrypted mean (unweighted: each update was clipped
   to τ before encryption, so example-count weights cannot be applied after it) becomes
   one synthetic reply, global + mean, that the inner strategy aggregates — FedAvg returns
   it as is; FedAvgM/FedAdam/... apply their server optimiser to it.

What cannot work on ciphertexts: robust aggregators that look at individual updates
(Krum, median, trimmed mean) — the server never sees one. The norm proof is the defence.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import multiprocessing
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from zkflpq.client_pipeline import open_update, update_context
from zkflpq.pq import SignatureError, VerifyKey
from zkflpq.protocol import EnvelopeError, client_id_for, sha3
from zkflpq.zkbridge import verify_submission, warm_up

from .key_authority import AcceptedUpdate, KeyAuthority, KeyAuthorityRefused
from .mod import flatten_arrays
from .wire import REPLY_ENVELOPE, REPLY_RECORD, REPLY_VERIFY_KEY, server_config

__all__ = ["RoundOutcome", "ZkflpqStrategy"]

log = logging.getLogger("zkflpq.flower.strategy")


@dataclass
class RoundOutcome:
    round_id: int
    accepted: list[int] = field(default_factory=list)              # node ids
    rejected: dict[int, tuple[str, str]] = field(default_factory=dict)  # node → (reason, detail)
    dropped: dict[int, str] = field(default_factory=dict)          # node → Flower error
    decrypted: bool = False
    refusal: str | None = None   # why nothing was decrypted
    verify_s: float = 0.0
    decrypt_s: float = 0.0
    reply_bytes: dict[int, int] = field(default_factory=dict)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for reason, _ in self.rejected.values():
            out[reason] = out.get(reason, 0) + 1
        return out


class ZkflpqStrategy(Strategy):
    def __init__(self, strategy: Strategy, key_authority: KeyAuthority, *, k_min: int = 3,
                 tau: float = 5.0, scale: float = 65536.0, workers: int = 2,
                 executor: str = "thread", max_update_bytes: int | None = None,
                 round_base: int = 0) -> None:
        """``round_base``: added to Flower's server round to form the key authority's round
        id; a key authority decrypts each (aggregator, round) once, so a second run against
        the same (HTTP) key authority needs a new base. ``executor``: "thread" or
        "process" (spawned workers; pays off with several cores and large models)."""
        super().__init__()
        if k_min < 1:
            raise ValueError("k_min must be at least 1")
        self.strategy = strategy
        self.ka = key_authority
        self.k_min = int(k_min)
        self.tau = float(tau)
        self.scale = float(scale)
        self.round_base = int(round_base)
        self.max_update_bytes = max_update_bytes
        from zkflpq.bfv import Encoder, get_params

        self.params = get_params(key_authority.params_name)
        self.bound = int(Encoder(self.params, self.scale, self.tau).bound or 0)
        self.workers = max(1, int(workers))
        self.executor_kind = executor
        self._pool: cf.Executor | None = None
        self._current: tuple[list[str], list[tuple[int, ...]], list[Any], np.ndarray] | None = None
        self._node_client: dict[int, str] = {}
        self._client_node: dict[str, int] = {}
        self.history: dict[int, RoundOutcome] = {}

    # -- Flower Strategy API -----------------------------------------------------------------
    def __repr__(self) -> str:
        return f"ZkflpqStrategy({self.strategy!r}, k_min={self.k_min}, tau={self.tau})"

    def summary(self) -> None:
        log.info("zkflpq: params %s, K_min %d, tau %s, scale %s (B = %d), key authority %s",
                 self.params.name, self.k_min, self.tau, self.scale, self.bound,
                 self.ka.fingerprint[:16])
        self.strategy.summary()

    def round_id(self, server_round: int) -> int:
        return self.round_base + int(server_round)

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        keys, shapes, flat = flatten_arrays(arrays)
        dtypes = [a.dtype for a in arrays.to_numpy_ndarrays()]
        self._current = (keys, shapes, dtypes, flat)
        config.update(server_config(
            round_id=self.round_id(server_round), aggregator_id=self.ka.aggregator_id,
            k_min=self.k_min, tau=self.tau, scale=self.scale, params=self.params.name,
            bfv_pk=self.ka.bfv_pk_bytes, bfv_pk_sig=self.ka.bfv_pk_signature,
            ka_vk=self.ka.verify_key_bytes))
        return self.strategy.configure_train(server_round, arrays, config, grid)

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                           grid: Grid) -> Iterable[Message]:
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]
                           ) -> MetricRecord | None:
        return self.strategy.aggregate_evaluate(server_round, replies)

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        if self._current is None:
            raise RuntimeError("aggregate_train before configure_train")
        keys, shapes, dtypes, flat = self._current
        rid = self.round_id(server_round)
        out = RoundOutcome(rid)
        self.history[server_round] = out
        d = flat.shape[0]
        k = -(-d // self.params.n)
        candidates = self._screen(list(replies), rid, k, out)
        t0 = time.perf_counter()
        accepted = self._verify(candidates, rid, k, out)
        out.verify_s = time.perf_counter() - t0
        mean = self._decrypt(accepted, rid, d, k, out)
        self._log(server_round, out)
        metrics = MetricRecord({"zkflpq-accepted": len(out.accepted),
                                "zkflpq-rejected": len(out.rejected),
                                "zkflpq-dropped": len(out.dropped)})
        if mean is None:
            return None, metrics
        new = flat + mean
        arrays, off = {}, 0
        for key, shape, dtype in zip(keys, shapes, dtypes, strict=True):
            n = math.prod(shape)
            arrays[key] = Array(new[off:off + n].reshape(shape).astype(dtype))
            off += n
        weight_key = getattr(self.strategy, "weighted_by_key", "num-examples")
        synthetic = Message(RecordDict({"arrays": ArrayRecord(arrays),
                                        "metrics": MetricRecord({weight_key: len(out.accepted)})}),
                            dst_node_id=0, message_type="train")
        agg_arrays, agg_metrics = self.strategy.aggregate_train(server_round, [synthetic])
        if agg_metrics is not None:
            for name, value in agg_metrics.items():
                metrics[name] = value
        return agg_arrays, metrics

    # -- steps ---------------------------------------------------------------------------------
    def _screen(self, replies: list[Message], rid: int, k: int, out: RoundOutcome
                ) -> list[tuple[int, str, Any]]:
        """Everything checkable without the proof system; returns (node, client id, update)."""
        limit = self.max_update_bytes or self._default_limit(k)
        seen: set[str] = set()
        ok = []
        for msg in replies:
            node = int(msg.metadata.src_node_id)

            def reject(reason: str, detail: str, node: int = node) -> None:
                out.rejected[node] = (reason, detail)

            if msg.has_error():
                out.dropped[node] = str(msg.error.reason)[:300]
                continue
            content = msg.content
            rec = content.config_records.get(REPLY_RECORD)
            if rec is None:
                reject("missing", "the reply has no zkflpq record (is zkflpq_mod installed?)")
                continue
            if len(content) != 1:
                # Extra records could carry plaintext: refuse rather than ignore them.
                reject("malformed", f"the reply must hold only the zkflpq record, not "
                       f"{sorted(content.keys())}")
                continue
            envelope, vk_bytes = rec.get(REPLY_ENVELOPE), rec.get(REPLY_VERIFY_KEY)
            if not isinstance(envelope, bytes) or not isinstance(vk_bytes, bytes):
                reject("malformed", "envelope and verify key must be bytes")
                continue
            out.reply_bytes[node] = len(envelope) + len(vk_bytes)
            if len(envelope) > limit:
                reject("too_large", f"{len(envelope)} bytes, limit {limit}")
                continue
            try:
                upd = open_update(envelope, max_bytes=limit)
                vk = VerifyKey.from_bytes(vk_bytes)
            except (EnvelopeError, ValueError) as exc:
                reject("malformed", str(exc)[:300])
                continue
            cid = client_id_for(vk)
            if upd.client_id != cid:
                reject("bad_signature", "client id is not the verify key's")
                continue
            bound_cid, bound_node = self._node_client.get(node), self._client_node.get(cid)
            if (bound_cid is not None and bound_cid != cid) or (
                    bound_node is not None and bound_node != node):
                reject("identity_mismatch", f"node {node} is bound to {bound_cid}, client "
                       f"{cid} to node {bound_node}")
                continue
            if upd.round_id != rid:
                reject("wrong_round", f"update for round {upd.round_id}, this is {rid}")
                continue
            if upd.k_min != self.k_min:
                reject("wrong_k_min", f"signed for K_min {upd.k_min}, round has {self.k_min}")
                continue
            if cid in seen:
                reject("duplicate", f"{cid} already answered this round")
                continue
            try:
                upd.verify(vk, aggregator_id=self.ka.aggregator_id,
                           deployment=self.ka.fingerprint)
            except SignatureError as exc:
                reject("bad_signature", str(exc)[:300])
                continue
            seen.add(cid)
            ok.append((node, cid, upd))
        return ok

    def _default_limit(self, k: int) -> int:
        # ciphertexts + proof of an honest client are a few times the ciphertext size;
        # 64 MiB + 4 MiB per chunk is far above that and far below memory trouble.
        return 64 * 1024 * 1024 + 4 * 1024 * 1024 * k

    def _executor(self) -> cf.Executor:
        if self._pool is None:
            if self.executor_kind == "process":
                self._pool = cf.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=warm_up, initargs=(self.params.name,))
            else:
                self._pool = cf.ThreadPoolExecutor(self.workers,
                                                   thread_name_prefix="zkflpq-verify")
        return self._pool

    def _verify(self, cands: list[tuple[int, str, Any]], rid: int, k: int, out: RoundOutcome
                ) -> list[tuple[int, str, Any]]:
        pool = self._executor()
        futs = [(node, cid, upd, pool.submit(
            verify_submission, self.params.name, self.ka.bfv_pk_bytes, upd.ciphertexts,
            upd.proof, self.bound, k, update_context(self.ka.aggregator_id, rid, cid)))
            for node, cid, upd in cands]
        accepted = []
        for node, cid, upd, fut in futs:
            try:
                verdict = fut.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker rejects, never crashes
                verdict = {"accepted": False, "reason": "malformed",
                           "detail": f"verifier failed: {type(exc).__name__}"}
            if verdict["accepted"]:
                accepted.append((node, cid, upd))
            else:
                out.rejected[node] = (str(verdict["reason"]), str(verdict.get("detail")))
        return accepted

    def _decrypt(self, accepted: list[tuple[int, str, Any]], rid: int, d: int, k: int,
                 out: RoundOutcome) -> np.ndarray | None:
        for _attempt in range(2):
            if len(accepted) < self.k_min:
                out.refusal = (f"too_few_clients: {len(accepted)} accepted, K_min "
                               f"{self.k_min}: nothing sent to the key authority")
                return None
            rows = [AcceptedUpdate(cid, u.timestamp, u.nonce, sha3(u.proof).hex(),
                                   u.ciphertexts, u.signature) for _n, cid, u in accepted]
            t0 = time.perf_counter()
            try:
                total, n = self.ka.decrypt(rid, d, k, self.k_min, rows)
            except KeyAuthorityRefused as exc:
                out.decrypt_s += time.perf_counter() - t0
                if exc.reason == "unknown_client" and exc.client_ids:
                    # Not enrolled at the key authority: reject those, ask again without.
                    for node, cid, _u in accepted:
                        if cid in exc.client_ids:
                            out.rejected[node] = ("unknown_client", exc.detail[:300])
                    accepted = [a for a in accepted if a[1] not in exc.client_ids]
                    continue
                out.refusal = f"{exc.reason}: {exc.detail}"[:300]
                return None
            out.decrypt_s += time.perf_counter() - t0
            out.decrypted = True
            for node, cid, _u in accepted:
                out.accepted.append(node)
                self._node_client[node] = cid   # first decrypted update binds node ↔ client
                self._client_node[cid] = node
            return total.astype(np.float64) / (self.scale * n)
        out.refusal = "unknown_client"
        return None

    def _log(self, server_round: int, out: RoundOutcome) -> None:
        log.info("zkflpq round %d: accepted %d, rejected %s, dropped %d, decrypted %s%s",
                 server_round, len(out.accepted), out.reasons() or "{}", len(out.dropped),
                 out.decrypted, f" ({out.refusal})" if out.refusal else "")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
