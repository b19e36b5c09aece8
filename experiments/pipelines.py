"""The three federation configurations of the paper, as hooks for
:func:`zkflpq.fl.simulation.run_federation`.

- **standard**: plaintext updates, FedAvg, no defence (the paper's "Standard FL").
- **mlkem**: every client→server update is a float32 vector sealed with
  :func:`zkflpq.pq.seal` to the aggregator's KEM key (ML-KEM-768 by default, as in
  the paper) and opened by the server; FedAvg, no defence ("FL + ML-KEM").
- **zkflpq** (scope ``full``): every parameter is quantised (scale 2^14), BFV-encrypted
  in ``ceil(d/N)`` ciphertexts and covered by the lattice norm proof ‖m‖₂ ≤ B =
  floor(τ·2^14) (:mod:`zkflpq.zk`); ciphertexts + proof are sealed to the aggregator.
- **zkflpq**, scope ``paper``: protects exactly what the paper's code protects — the
  first 256 parameters are encrypted and covered by the proof (‖u[:256]‖ ≤ τ), the
  next 256 are encrypted without a proof, the rest travel as float32 plaintext inside
  the sealed envelope (the aggregator sees them) — but the proof is ours and really
  verified. It reproduces the paper's cost like for like; it also shows the paper's
  gap: an update that leaves its first 256 coordinates honest is never checked.
  The server opens the envelope, decodes ciphertexts and proof strictly, **verifies
  the proof against the statement it builds itself** (its own τ, the received
  ciphertexts, a context binding round and client) and sums the accepted ciphertexts
  homomorphically; only the aggregate is decrypted.

Rejection is decided only by the verifier's verdict — never by anything the client
reports about itself.

Malicious clients in the zkflpq configuration behave like a real attacker would:
an update that fits the bound (norm ≤ τ) is simply encrypted and proven (the proof is
then valid: a norm bound cannot stop it); an update that does not fit cannot be
proven by the honest prover (:class:`zkflpq.zk.NormBoundExceeded`), so the attacker
encrypts the oversized update and attaches a valid proof made for a *different*
ciphertext (its update clipped to the bound). The verifier must reject that
(binding); the verdict reason is recorded.

Each round's τ comes from the simulation (``info.tau``: fixed, or the adaptive rule);
proving and verifying use ``threads`` worker threads (default: every core). Every phase
is timed with a :class:`~experiments.common.PhaseTimer`; byte counts of every message
are recorded.
"""

from __future__ import annotations

import math
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zkflpq.fl.simulation import Decision, SubmissionInfo, fedavg_aggregate, no_defence

from .common import PAPER, PhaseTimer

__all__ = [
    "CONFIGS",
    "DEFAULT_SCALE",
    "SCOPES",
    "MlKemPipeline",
    "Pipeline",
    "StandardPipeline",
    "ZkflPqPipeline",
    "make_pipeline",
    "proof_bytes",
]

DEFAULT_SCALE = 2.0**14
PROTOCOL_VERSION = "zkflpq-experiments/1"
AGGREGATOR_ID = "experiments-aggregator"
CONFIGS = ("standard", "mlkem", "zkflpq")
SCOPES = ("full", "paper")


def _seal_context(round_index: int, client_id: int) -> bytes:
    from zkflpq.pq import request_context

    return request_context(
        "POST", f"/rounds/{round_index}/updates", f"client-{client_id}", round_index,
        PROTOCOL_VERSION,
    )


def proof_bytes(proof: Any, params: Any) -> bytes:
    """``NormProof.to_bytes()`` (tolerates the variant that takes the ZkParams)."""
    try:
        return proof.to_bytes()
    except TypeError:
        from zkflpq.zk.params import zk_params_for

        return proof.to_bytes(zk_params_for(params))


@dataclass
class Pipeline:
    """Base: plaintext identity pipeline (standard FL, no defence)."""

    name: str = "standard"
    timer: PhaseTimer = field(default_factory=PhaseTimer)
    messages: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    # hooks for run_federation -------------------------------------------------------
    def client_update_fn(self, update: np.ndarray, info: SubmissionInfo) -> Any:
        return update

    def defence(self, submission: Any, info: SubmissionInfo) -> Decision:
        return no_defence(submission, info)

    def aggregate_fn(self, global_vec, accepted, infos) -> np.ndarray:
        with self.timer("aggregate"):
            return fedavg_aggregate(global_vec, accepted, infos)

    def hooks(self) -> dict[str, Callable[..., Any]]:
        return {
            "client_update_fn": self.client_update_fn,
            "defence": self.defence,
            "aggregate_fn": self.aggregate_fn,
        }

    def start_clock(self) -> None:
        """Call right before run_federation: CPU time of this process is then recorded per
        round (robust to other processes competing for the cores, unlike wall-clock)."""
        self._cpu_last = time.process_time()

    def on_round(self, record: dict[str, Any]) -> None:
        """Attach this round's fine-grained phases to run_federation's record."""
        now = time.process_time()
        last = getattr(self, "_cpu_last", None)
        record["cpu_s"] = None if last is None else now - last
        self._cpu_last = now
        phases = self.timer.snapshot_and_reset()
        phases["train"] = record["timings_s"]["train"]
        phases["evaluate"] = record["timings_s"]["evaluate"]
        record["phases_s"] = phases
        r = record["round"]
        record["messages"] = [m for m in self.messages if m["round"] == r]
        record["verdicts"] = [v for v in self.verdicts if v["round"] == r]


class StandardPipeline(Pipeline):
    def __init__(self) -> None:
        super().__init__(name="standard")

    def client_update_fn(self, update, info):
        d = int(np.asarray(update).shape[0])
        self.messages.append({
            "round": info.round_index, "client": info.client_id, "plaintext_bytes": 4 * d,
            "params_total": d, "encrypted_params": 0, "proven_params": 0,
        })
        return update


class MlKemPipeline(Pipeline):
    """Sealed plaintext updates (float32 little-endian) to the aggregator's KEM key."""

    def __init__(self, kem: str = "mlkem768") -> None:
        super().__init__(name="mlkem")
        from zkflpq.pq import KemAlgorithm, KemPrivateKey

        alg = {"mlkem768": KemAlgorithm.MLKEM768, "xwing": KemAlgorithm.XWING}[kem]
        self.kem = kem
        self._kem_sk = KemPrivateKey.generate(alg)
        self._kem_pk = self._kem_sk.public_key()
        self._inbox: dict[tuple[int, int], np.ndarray] = {}

    def client_update_fn(self, update, info):
        from zkflpq.pq import seal

        with self.timer("serialise"):
            body = np.ascontiguousarray(update, dtype="<f4").tobytes()
        with self.timer("seal"):
            sealed, _ = seal(self._kem_pk, body, _seal_context(info.round_index, info.client_id))
        self.messages.append({
            "round": info.round_index, "client": info.client_id,
            "plaintext_bytes": len(body), "envelope_bytes": len(sealed),
            "params_total": int(np.asarray(update).shape[0]), "encrypted_params": 0,
            "proven_params": 0,
        })
        return sealed

    def defence(self, submission, info):
        from zkflpq.pq import PqError, open_sealed

        with self.timer("open"):
            try:
                body, _ = open_sealed(
                    self._kem_sk, submission, _seal_context(info.round_index, info.client_id)
                )
            except PqError as exc:
                return Decision(False, f"envelope: {type(exc).__name__}")
        with self.timer("deserialise"):
            vec = np.frombuffer(body, dtype="<f4").astype(np.float32)
        if vec.shape != info.global_vec.shape:
            return Decision(False, "wrong update length")
        self._inbox[(info.round_index, info.client_id)] = vec
        return Decision(True)  # the paper's FL + ML-KEM has no content check

    def aggregate_fn(self, global_vec, accepted, infos):
        vecs = [self._inbox.pop((i.round_index, i.client_id)) for i in infos]
        self._inbox.clear()
        with self.timer("aggregate"):
            return fedavg_aggregate(global_vec, vecs, infos)


def _pack(*parts: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(p)) + p for p in parts)


def _unpack(data: bytes, n: int) -> list[bytes]:
    out, off = [], 0
    for _ in range(n):
        if off + 4 > len(data):
            raise ValueError("truncated message")
        (ln,) = struct.unpack_from("<I", data, off)
        off += 4
        if off + ln > len(data):
            raise ValueError("truncated message")
        out.append(data[off:off + ln])
        off += ln
    if off != len(data):
        raise ValueError("trailing bytes")
    return out


class ZkflPqPipeline(Pipeline):
    """ML-KEM envelope + BFV encryption + norm proof + verification + homomorphic
    aggregation, of every parameter (``scope="full"``) or of the paper's prefix
    (``scope="paper"``). See the module docstring for the attacker model.

    ``is_attacker(client_id, round_index)`` tells the *client simulation* whether that
    client is malicious this round (so it behaves like an attacker); the server side
    never sees it.
    """

    def __init__(
        self,
        params: Any,
        tau: float,
        *,
        scale: float = DEFAULT_SCALE,
        is_attacker: Callable[[int, int], bool] = lambda k, r: False,
        kem: str = "mlkem768",
        seed: bytes | None = None,
        proofs: str = "all",
        scope: str = "full",
        threads: int | None = None,
    ) -> None:
        super().__init__(name="zkflpq" if scope == "full" else "zkflpq_paper_scope")
        if proofs not in ("all", "attackers"):
            raise ValueError("proofs must be 'all' or 'attackers'")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")
        # "attackers": budget mode for experiments with many runs. Honest clients still
        # quantise (with the clipping encoder, so ‖m‖ ≤ B holds by construction), encrypt
        # and seal, and their ciphertexts are aggregated homomorphically, but they send no
        # proof and the simulated server accepts them unverified. Every malicious
        # submission still goes through the real prove/forge + verify path. Never used for
        # timings or for the headline run.
        self.proofs = proofs
        self.scope = scope
        self.threads = int(threads) if threads else (os.cpu_count() or 1)
        self._unproven_ok: set[tuple[int, int]] = set()
        from zkflpq.bfv import keygen
        from zkflpq.pq import KemAlgorithm, KemPrivateKey
        from zkflpq.ring import Csprng

        self.params = params
        self.tau = float(tau)
        self.scale = float(scale)
        self.is_attacker = is_attacker
        rng = Csprng.from_seed(b"experiments", seed) if seed is not None else None
        # Aggregator-side keys (simulation: the server holds the BFV secret key).
        self._bfv_sk, self.bfv_pk = keygen(params, rng)
        alg = {"mlkem768": KemAlgorithm.MLKEM768, "xwing": KemAlgorithm.XWING}[kem]
        self.kem = kem
        self._kem_sk = KemPrivateKey.generate(alg)
        self._kem_pk = self._kem_sk.public_key()
        self._encoders: dict[float, Any] = {}
        self.encoder = self._encoder(self.tau)
        self._inbox: dict[tuple[int, int], Any] = {}
        self.forgeries = 0

    # -- shared ------------------------------------------------------------------------
    def _encoder(self, tau: float):
        """The clipping encoder of a round's τ (clients clip to it; the server's bound B =
        floor(τ·scale) is the encoder's)."""
        from zkflpq.bfv import Encoder

        enc = self._encoders.get(tau)
        if enc is None:
            enc = self._encoders[tau] = Encoder(self.params, self.scale, tau)
        return enc

    def _split(self, d: int) -> tuple[int, int]:
        """(proven, encrypted) parameter counts: the first ``proven`` coordinates are
        encrypted and proven, the next ``encrypted − proven`` only encrypted."""
        if self.scope == "full":
            return d, d
        return min(PAPER.proven_params, d), min(PAPER.encrypted_params, d)

    # -- client side -------------------------------------------------------------------
    def _proof_context(self, round_index: int, client_id: int) -> bytes:
        from zkflpq.zk import proof_context

        return proof_context(PROTOCOL_VERSION, AGGREGATOR_ID, round_index, f"client-{client_id}")

    def _statement(self, ct, ctx: bytes, tau: float):
        from zkflpq.zk import NormStatement

        return NormStatement(self.params, self.bfv_pk, ct, int(self._encoder(tau).bound), ctx)

    def _encrypt_and_prove(self, m: np.ndarray, ctx: bytes, tau: float):
        """Encrypt m, prove ‖m‖ ≤ B for that ciphertext; re-encrypt if the randomness
        came out above the public bound (rare; ProvingFailed)."""
        from zkflpq.bfv import encrypt_with_randomness
        from zkflpq.zk import prove
        from zkflpq.zk.errors import ProvingFailed

        for _ in range(8):
            with self.timer("encrypt"):
                ct, rand = encrypt_with_randomness(self.bfv_pk, m)
            try:
                with self.timer("prove"):
                    proof = prove(self._statement(ct, ctx, tau), m, rand,
                                  threads=self.threads)
                return ct, proof
            except ProvingFailed:
                continue
        raise RuntimeError("proving failed 8 times in a row")

    def _saturating_encode(self, update: np.ndarray) -> np.ndarray:
        """Quantised at the same scale, unclipped (saturated to the plaintext space only
        where it would not fit): what an attacker sends, and the paper scope's unproven
        encrypted block."""
        n = self.params.n
        lim = self.params.t // 2 - 1
        y = np.clip(np.rint(np.asarray(update, dtype=np.float64) * self.scale), -lim, lim)
        k = -(-y.shape[0] // n)
        out = np.zeros(k * n, dtype=np.int64)
        out[: y.shape[0]] = y.astype(np.int64)
        return out.reshape(k, n)

    def client_update_fn(self, update, info):
        from zkflpq.bfv import encode_ciphertexts, encrypt
        from zkflpq.pq import seal

        k, r = info.client_id, info.round_index
        tau = float(info.tau)
        enc = self._encoder(tau)
        x = np.asarray(update)
        d = int(x.shape[0])
        n_proven, n_enc = self._split(d)
        head = x[:n_proven]
        ctx = self._proof_context(r, k)
        attacker = self.is_attacker(k, r)
        norm = float(np.linalg.norm(np.asarray(head, dtype=np.float64)))
        forged = attacker and not (math.isfinite(norm) and norm <= tau)
        proof: Any = None
        if not attacker and self.proofs == "attackers":
            # budget mode (see __init__): honest client, real encoding and encryption, no proof
            with self.timer("quantise"):
                m = enc.encode(head)
            with self.timer("encrypt"):
                ct = encrypt(self.bfv_pk, m)
            self._unproven_ok.add((r, k))
        elif not forged:
            # honest client, or an attacker whose update fits the bound: prove honestly
            with self.timer("quantise"):
                m = enc.encode(head)
            ct, proof = self._encrypt_and_prove(m, ctx, tau)
        else:
            # the honest prover refuses (NormBoundExceeded); forge: send the oversized
            # update's ciphertext with a proof made for the clipped update's ciphertext
            self.forgeries += 1
            with self.timer("quantise"):
                m_bad = self._saturating_encode(np.nan_to_num(head))
                m_ok = enc.encode(np.nan_to_num(head))
            with self.timer("encrypt"):
                ct = encrypt(self.bfv_pk, m_bad)
            _, proof = self._encrypt_and_prove(m_ok, ctx, tau)
        ct_mid = None
        if self.scope == "paper" and n_enc > n_proven:
            # the paper's unproven encrypted block
            with self.timer("quantise"):
                m_mid = self._saturating_encode(np.nan_to_num(x[n_proven:n_enc]))
            with self.timer("encrypt"):
                ct_mid = encrypt(self.bfv_pk, m_mid)
        with self.timer("serialise"):
            ct_b = encode_ciphertexts(ct)
            pf_b = b"" if proof is None else proof_bytes(proof, self.params)
            extra_ct_b = b"" if ct_mid is None else encode_ciphertexts(ct_mid)
            parts = [ct_b, pf_b]
            if self.scope == "paper":  # + the plaintext remainder, as the paper sends it
                parts += [extra_ct_b, np.ascontiguousarray(x[n_enc:], dtype="<f4").tobytes()]
            body = _pack(*parts)
        with self.timer("seal"):
            sealed, _ = seal(self._kem_pk, body, _seal_context(r, k))
        self.messages.append({
            "round": r, "client": k, "forged": forged,
            "plaintext_bytes": 4 * d,
            "ciphertext_bytes": len(ct_b) + len(extra_ct_b), "proof_bytes": len(pf_b),
            "envelope_bytes": len(sealed),
            "params_total": d, "chunks": len(ct),
            # coordinates carried inside BFV ciphertexts / covered by the proof's statement
            "encrypted_params": n_enc,
            "proven_params": 0 if proof is None else min(int(proof.k) * self.params.n,
                                                         n_proven),
            "proof_skipped": proof is None,
            "plaintext_params_sent": d - n_enc,
        })
        return sealed

    # -- server side -------------------------------------------------------------------
    def defence(self, submission, info):
        from zkflpq.bfv import BfvDecodeError, decode_ciphertexts
        from zkflpq.pq import PqError, open_sealed
        from zkflpq.zk import decode_proof, verify
        from zkflpq.zk.errors import ProofDecodeError

        k, r = info.client_id, info.round_index
        d = int(info.global_vec.shape[0])
        n_proven, n_enc = self._split(d)
        want_k = -(-n_proven // self.params.n)
        tau = float(info.tau)

        def reject(reason: str) -> Decision:
            self.verdicts.append({"round": r, "client": k, "accepted": False, "reason": reason})
            return Decision(False, reason)

        with self.timer("open"):
            try:
                body, _ = open_sealed(self._kem_sk, submission, _seal_context(r, k))
            except PqError as exc:
                return reject(f"envelope:{type(exc).__name__}")
        with self.timer("deserialise"):
            extra: tuple[Any, np.ndarray | None] = (None, None)
            try:
                if self.scope == "paper":
                    ct_b, pf_b, mid_b, tail_b = _unpack(body, 4)
                    mid = (decode_ciphertexts(mid_b, self.params, max_chunks=1)
                           if n_enc > n_proven else None)
                    if len(tail_b) != 4 * (d - n_enc):
                        raise ValueError("wrong plaintext length")
                    tail = np.frombuffer(tail_b, dtype="<f4").astype(np.float32)
                    if not np.all(np.isfinite(tail)):
                        raise ValueError("non-finite plaintext values")
                    extra = (mid, tail)
                else:
                    ct_b, pf_b = _unpack(body, 2)
                ct = decode_ciphertexts(ct_b, self.params, max_chunks=want_k)
            except (ValueError, BfvDecodeError) as exc:
                return reject(f"decode:{exc}")
            if len(ct) != want_k:
                return reject("decode:wrong chunk count")
            if not pf_b and (r, k) in self._unproven_ok:
                # budget mode only: an honest client's proof was skipped (simulation shortcut)
                self._unproven_ok.discard((r, k))
                self._inbox[(r, k)] = (ct, *extra)
                self.verdicts.append({"round": r, "client": k, "accepted": True,
                                      "reason": "unverified (budget mode, honest client)"})
                return Decision(True)
            statement = self._statement(ct, self._proof_context(r, k), tau)
            try:
                proof = decode_proof(pf_b, statement)
            except ProofDecodeError:
                return reject("proof:malformed")
        with self.timer("verify"):
            verdict = verify(statement, proof, threads=self.threads)
        if not verdict.accepted:
            return reject(f"proof:{verdict.reason}")
        self._inbox[(r, k)] = (ct, *extra)
        self.verdicts.append({"round": r, "client": k, "accepted": True, "reason": None})
        return Decision(True)

    def aggregate_fn(self, global_vec, accepted, infos):
        from zkflpq.bfv import decrypt, sum_ciphertexts

        items = [self._inbox.pop((i.round_index, i.client_id)) for i in infos]
        self._inbox.clear()
        g = np.asarray(global_vec, dtype=np.float32)
        if not items:
            return g.copy()
        d = g.shape[0]
        n_proven, n_enc = self._split(d)
        K = len(items)
        with self.timer("aggregate"):
            agg = sum_ciphertexts([it[0] for it in items])
            agg_mid = (sum_ciphertexts([it[1] for it in items])
                       if self.scope == "paper" and n_enc > n_proven else None)
            tail_mean = (np.mean(np.stack([it[2] for it in items]).astype(np.float64), axis=0)
                         if self.scope == "paper" else np.zeros(0))
        with self.timer("decrypt"):
            parts = [self.encoder.decode(decrypt(self._bfv_sk, agg), n_proven, n_summed=K)]
            if agg_mid is not None:
                parts.append(self.encoder.decode(decrypt(self._bfv_sk, agg_mid),
                                                 n_enc - n_proven, n_summed=K))
            parts.append(tail_mean)
            mean = np.concatenate(parts)
        return (g.astype(np.float64) + mean).astype(np.float32)


def make_pipeline(
    name: str,
    *,
    params: Any = None,
    tau: float = 5.0,
    is_attacker: Callable[[int, int], bool] = lambda k, r: False,
    kem: str = "mlkem768",
    scale: float = DEFAULT_SCALE,
    proofs: str = "all",
    scope: str = "full",
    threads: int | None = None,
) -> Pipeline:
    if name == "standard":
        return StandardPipeline()
    if name == "mlkem":
        return MlKemPipeline(kem)
    if name == "zkflpq":
        if params is None:
            from zkflpq.bfv import DEFAULT

            params = DEFAULT
        return ZkflPqPipeline(params, tau, scale=scale, is_attacker=is_attacker, kem=kem,
                              proofs=proofs, scope=scope, threads=threads)
    raise ValueError(f"unknown configuration {name!r}; known: {CONFIGS}")
