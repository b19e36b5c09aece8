"""Aggregation-service throughput: accepted updates per second and submission latency.

Setup: the key authority and the aggregator run as real uvicorn processes on loopback
(SQLite store, X-Wing, verification in a process pool with --workers processes). M
clients are enrolled and a round is opened for the paper's MLP (784-128-64-4, d = 108,996,
default parameter set N = 4096 → k = 27 chunks, τ = 5, scale 2^16). Every client's
update is encrypted and proven *before* the measurement (proofs are bound to the client
and round, so each needs its own), in a separate pool. Then all M signed, sealed updates
are submitted with --concurrency clients in flight and the benchmark reports:

- throughput: accepted updates / wall time from the first request to the last verdict
  (sustained: the queue never runs dry while updates remain);
- p50 / p95 latency of a submission (seal + upload + open + verify + durable store +
  sealed reply), measured at the client;
- the aggregator's own per-update verification time (from its verdicts) and sizes;
- the close: key-authority decryption of the M-ciphertext sum and model publication.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_arguments", "measure", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--clients", type=int, default=16, help="updates submitted (one per client)")
    p.add_argument("--warmup", type=int, default=2,
                   help="updates submitted (and not counted) before the measurement")
    p.add_argument("--concurrency", type=int, default=4, help="submissions in flight")
    p.add_argument("--workers", type=int, default=2, help="aggregator verification workers")
    p.add_argument("--executor", choices=["process", "thread"], default="process")
    p.add_argument("--params", default="default", help="BFV parameter set")
    p.add_argument("--hidden", default="128,64", help="MLP hidden sizes (paper: 128,64)")
    p.add_argument("--kem", choices=["xwing", "mlkem768"], default="xwing")
    p.add_argument("--prove-workers", type=int, default=os.cpu_count() or 2)


def _prove(args: tuple[str, bytes, np.ndarray, float, float, bytes]) -> tuple[bytes, bytes,
                                                                             float]:
    from zkflpq.bfv import decode_public_key, get_params
    from zkflpq.zkbridge import prove_update

    params_name, pk_bytes, update, tau, scale, ctx = args
    pk = decode_public_key(pk_bytes, get_params(params_name))
    t = time.perf_counter()
    ct, proof, _ = prove_update(pk, update, tau, scale, ctx)
    return ct, proof, time.perf_counter() - t


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    i = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[i]


def measure(args: argparse.Namespace, progress: Any = None) -> dict[str, Any]:
    from services.common.launch import LocalDeployment
    from zkflpq import zk
    from zkflpq.agent import AggregatorClient, RetryPolicy
    from zkflpq.fl import flatten_params, make_mlp
    from zkflpq.pq import SigningKey
    from zkflpq.protocol import PROTOCOL_VERSION, b64d, now

    def say(msg: str) -> None:
        if progress is not None:
            progress(msg)

    hidden = tuple(int(x) for x in args.hidden.split(",") if x)
    model = flatten_params(make_mlp(784, hidden, 4, seed=0))
    d = int(model.size)
    tau, scale = 5.0, 65536.0
    n_total = args.warmup + args.clients
    with tempfile.TemporaryDirectory(prefix="zkflpq-bench-") as tmp:
        dep = LocalDeployment(Path(tmp), params=args.params, kem=args.kem,
                              verify_workers=args.workers, verify_queue=4 * args.concurrency,
                              verify_executor=args.executor)
        say("starting the key authority and the aggregator")
        with dep:
            with dep.admin() as admin:
                keys = [SigningKey.generate() for _ in range(n_total)]
                for k in keys:
                    admin.enrol_client(k.verify_key())
                cfg = admin.open_round(tau=tau, scale=scale, k_min=2, model=model)
                params_doc = admin.params()
            rid = int(cfg["round_id"])
            clients = [AggregatorClient(dep.aggregator.url, signing_key=k, timeout=600.0,
                                        retry=RetryPolicy(attempts=20, backoff_s=0.2))
                       for k in keys]
            pk_bytes = b64d(params_doc["bfv_public_key"])
            rng = np.random.default_rng(1)
            jobs = []
            for c in clients:
                u = rng.normal(size=d)
                u *= rng.uniform(0.5, 4.5) / np.linalg.norm(u)
                ctx = zk.proof_context(PROTOCOL_VERSION, params_doc["aggregator_id"], rid,
                                       c.client_id or "")
                jobs.append((params_doc["params"], pk_bytes, u.astype(np.float32), tau, scale,
                             ctx))
            say(f"encrypting and proving {n_total} updates (d = {d:,}) before measuring")
            t0 = time.perf_counter()
            mp = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(max_workers=args.prove_workers, mp_context=mp) as pex:
                proofs = list(pex.map(_prove, jobs))
            prove_wall = time.perf_counter() - t0
            envelopes = []
            for c, (ct, proof, _) in zip(clients, proofs, strict=True):
                ts = now()
                envelopes.append((c, c.signed_update(rid, ct, proof, timestamp=ts), ts))

            def submit(item: tuple[Any, bytes, int]) -> tuple[float, Any]:
                c, env, ts = item
                t = time.perf_counter()
                res = c.submit_envelope(rid, env, ts)
                return time.perf_counter() - t, res

            if args.warmup:
                say(f"warm-up: {args.warmup} submissions")
                with cf.ThreadPoolExecutor(max_workers=args.concurrency) as ex:
                    list(ex.map(submit, envelopes[: args.warmup]))
            say(f"measuring: {args.clients} submissions, {args.concurrency} in flight")
            load_before = os.getloadavg()[0]
            t_start = time.perf_counter()
            with cf.ThreadPoolExecutor(max_workers=args.concurrency) as ex:
                results = list(ex.map(submit, envelopes[args.warmup:]))
            wall = time.perf_counter() - t_start
            load_after = os.getloadavg()[0]
            say("closing the round (key-authority decryption)")
            t_close = time.perf_counter()
            with dep.admin() as admin:
                closed = admin.close_round(rid)
            close_s = time.perf_counter() - t_close
            for c in clients:
                c.close()
    lat = [t for t, _ in results]
    accepted = sum(1 for _, r in results if r.accepted)
    verify_ms = [float(r.meta["verify_ms"]) for _, r in results
                 if r.meta.get("verify_ms") is not None]
    server_ms = [float(r.meta["total_ms"]) for _, r in results
                 if r.meta.get("total_ms") is not None]
    cpu_ms = [float(r.meta["verify_cpu_ms"]) for _, r in results
              if r.meta.get("verify_cpu_ms") is not None]
    cpu_med = statistics.median(cpu_ms) if cpu_ms else None
    ct_bytes, proof_bytes = len(proofs[0][0]), len(proofs[0][1])
    return {
        "params": params_doc["params"], "d": d, "k": int(cfg["k"]), "kem": args.kem,
        "workers": args.workers, "executor": args.executor, "concurrency": args.concurrency,
        "cpus": os.cpu_count(), "submitted": len(results), "accepted": accepted,
        "rejected": len(results) - accepted,
        "throughput_accepted_per_s": round(accepted / wall, 3) if wall > 0 else None,
        "wall_s": round(wall, 3),
        "latency_p50_s": round(_pct(lat, 50), 3), "latency_p95_s": round(_pct(lat, 95), 3),
        "latency_max_s": round(max(lat), 3) if lat else None,
        "server_verify_ms_median": round(statistics.median(verify_ms), 1) if verify_ms
        else None,
        "server_total_ms_median": round(statistics.median(server_ms), 1) if server_ms
        else None,
        "server_verify_cpu_ms_median": round(cpu_med, 1) if cpu_med else None,
        "verifier_capacity_per_s": round(args.workers * 1000 / cpu_med, 3) if cpu_med
        else None,
        "ciphertext_bytes": ct_bytes, "proof_bytes": proof_bytes,
        "prove_s_median": round(statistics.median(p[2] for p in proofs), 3),
        "prove_wall_s": round(prove_wall, 1),
        "close_s": round(close_s, 3), "close_state": closed.get("state"),
        "n_summed": closed.get("n_summed"),
        "target_accepted_per_s": 10.0,
        "loadavg_1min": [round(load_before, 2), round(load_after, 2)],
    }


def run(args: argparse.Namespace) -> int:
    if args.json:
        out = measure(args)
        print(json.dumps(out, indent=2))
        return 0 if out["accepted"] == out["submitted"] else 1
    from rich.console import Console
    from rich.table import Table

    console = Console()
    with console.status("…") as status:
        out = measure(args, progress=lambda m: status.update(m))
    t = Table(title=f"service benchmark: {out['params']}, d = {out['d']:,} (k = {out['k']}), "
                    f"{out['workers']} {out['executor']} workers, {out['cpus']} CPUs")
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows = [
        ("accepted / submitted", f"{out['accepted']} / {out['submitted']}"),
        ("sustained throughput (accepted updates/s)", f"{out['throughput_accepted_per_s']}"),
        ("submission latency p50 / p95 (s)",
         f"{out['latency_p50_s']} / {out['latency_p95_s']}"),
        ("aggregator verification, median (ms)", f"{out['server_verify_ms_median']}"),
        ("aggregator verification CPU time, median (ms)",
         f"{out['server_verify_cpu_ms_median']}"),
        ("verifier capacity = workers / CPU time (updates/s)",
         f"{out['verifier_capacity_per_s']}"),
        ("aggregator time per update incl. queueing, median (ms)",
         f"{out['server_total_ms_median']}"),
        ("ciphertexts + proof per update (bytes)",
         f"{out['ciphertext_bytes']:,} + {out['proof_bytes']:,}"),
        ("client proving, median (s, not in the measurement)", f"{out['prove_s_median']}"),
        (f"close: decrypt sum of {out['n_summed']} + publish (s)", f"{out['close_s']}"),
        ("machine load (1-min average, before / after)",
         " / ".join(str(x) for x in out["loadavg_1min"])),
    ]
    for r in rows:
        t.add_row(*r)
    console.print(t)
    return 0 if out["accepted"] == out["submitted"] else 1
