"""`zkflpq demo`: the whole system on loopback, with real processes.

1. A key authority is initialised (BFV default set, N = 4096, X-Wing) and started, then an
   aggregator (SQLite in a temporary data directory, 2 verification worker processes),
   each as its own ``uvicorn`` process on a free port. The aggregator's signing key is
   enrolled at the key authority.
2. Five hospitals generate ML-DSA-65 keys and are enrolled at both services.
3. The paper's setting: synthetic medical data (1000 samples, 784 features, 4 classes,
   Dirichlet(0.5) split), MLP 784-128-64-4 (108,996 parameters), 3 local epochs, SGD lr
   0.01, τ = 5, scale 2^16 (B = 327,680), K_min = 3.
4. Each round: the admin opens it; every client agent downloads the sealed model, trains,
   clips, quantises, encrypts all 27 chunks, proves, signs, seals and submits over REST;
   the admin closes it; the key authority decrypts the sum; the aggregator publishes
   previous model + mean of the accepted updates; accuracy is measured on held-out data.
5. From round 3 client 3 is malicious: it sends pure Gaussian noise N(0, 50²) per
   coordinate (‖·‖ ≈ 16,500 ≫ τ), skipping clipping. An honest prover refuses to prove
   that, so it does what a real attacker can: it encrypts the oversized update and
   attaches a valid proof made for the *clipped* update's (different) ciphertexts. The
   aggregator's verifier recomputes the Fiat–Shamir challenge from the statement it
   received — the oversized ciphertexts — and rejects with reason ``proof_invalid``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_arguments", "run", "run_demo"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=5)
    p.add_argument("--malicious-client", type=int, default=3,
                   help="1-based index of the poisoning client (0: none)")
    p.add_argument("--malicious-from", type=int, default=3, help="first poisoned round")
    p.add_argument("--params", default="default",
                   help="BFV parameter set (default: the 128-bit N = 4096 set)")
    p.add_argument("--kem", choices=["xwing", "mlkem768"], default="xwing")
    p.add_argument("--tau", type=float, default=5.0)
    p.add_argument("--scale", type=float, default=65536.0)
    p.add_argument("--k-min", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--hidden", default="128,64", help="MLP hidden sizes")
    p.add_argument("--workers", type=int, default=2, help="aggregator verification workers")
    p.add_argument("--parallel-clients", type=int, default=2,
                   help="client agents running at the same time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None,
                   help="keep keys, databases and logs here (default: a temporary dir)")


def run(args: argparse.Namespace) -> int:
    result = run_demo(args)
    return 0 if result["ok"] else 1


def _console(json_mode: bool) -> Any:
    from rich.console import Console

    return Console(stderr=json_mode, width=None if sys.stdout.isatty() else 130)


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    from services.common.launch import LocalDeployment
    from services.common.zkbridge import forge_mismatched_update, prove_update
    from zkflpq.agent import AggregatorClient, ClientAgent
    from zkflpq.fl import (
        dirichlet_split,
        evaluate,
        flatten_params,
        layout_to_json,
        local_train,
        make_mlp,
        make_synthetic_medical,
        model_layout,
        train_test_split,
    )
    from zkflpq.pq import SigningKey

    console = _console(args.json)
    quiet = args.json
    hidden = tuple(int(x) for x in args.hidden.split(",") if x)
    data = make_synthetic_medical(args.samples, seed=42)
    train, test = train_test_split(data, 0.2)
    shards = dirichlet_split(train, args.clients, alpha=0.5, seed=42)
    net = make_mlp(train.n_features, hidden, train.n_classes, seed=args.seed)
    model0 = flatten_params(net)
    layout = layout_to_json(model_layout(net))
    mal_index = args.malicious_client - 1

    tmp = None
    root = args.data_dir
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="zkflpq-demo-")
        root = Path(tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    status = console.status("starting the key authority and the aggregator …") \
        if not quiet else None
    t_start = time.perf_counter()
    rounds: list[dict[str, Any]] = []
    poisoned_total = poisoned_rejected = honest_rejected = 0
    poisoned_reasons: Counter[str] = Counter()
    dep = LocalDeployment(root, params=args.params, kem=args.kem,
                          verify_workers=args.workers, verify_queue=2 * args.clients)
    try:
        if status:
            status.start()
        dep.start()
        startup_s = time.perf_counter() - t_start
        if status:
            status.stop()
        admin = dep.admin()
        params_doc = admin.params()
        keys = [SigningKey.generate() for _ in range(args.clients)]
        for i, k in enumerate(keys):
            admin.enrol_client(k.verify_key(), f"hospital-{i + 1}")
        if not quiet:
            console.print(f"[bold]zkflpq demo[/] — key authority {dep.ka.url if dep.ka else ''}"
                          f", aggregator {dep.aggregator.url} (separate uvicorn processes, "
                          f"SQLite in {root}); started in {startup_s:.1f} s")
            console.print(f"parameter set {params_doc['params']} (N = {params_doc['n']}), "
                          f"KEM {params_doc['kem']['algorithm']}, ML-DSA-65 signatures; "
                          f"model d = {model0.size:,}; {args.clients} clients enrolled; "
                          f"client {args.malicious_client} poisons from round "
                          f"{args.malicious_from}")

        clients = [AggregatorClient(dep.aggregator.url, signing_key=k, timeout=300.0)
                   for k in keys]
        model = model0
        for rnd in range(1, args.rounds + 1):
            t_round = time.perf_counter()
            opened = admin.open_round(tau=args.tau, scale=args.scale, k_min=args.k_min,
                                      model=model if rnd == 1 else None, layout=layout)
            round_id = int(opened["round_id"])

            def one(i: int, rnd: int = rnd, opened: dict[str, Any] = opened
                    ) -> tuple[int, Any, bool]:
                malicious = (i == mal_index and rnd >= args.malicious_from)
                seed = [args.seed, rnd, i]
                if malicious:
                    def train_fn(vec: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
                        rng = np.random.default_rng(seed)
                        return rng.normal(0.0, 50.0, size=vec.shape).astype(np.float32)
                    agent = ClientAgent(clients[i], train_fn, clip=False,
                                        build=forge_mismatched_update)
                else:
                    def train_fn(vec: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
                        return local_train(vec, shards[i], args.epochs, 0.01, 32, seed=seed,
                                           hidden=hidden)
                    agent = ClientAgent(clients[i], train_fn, build=prove_update)
                return i, agent.run_round(opened), malicious

            with ThreadPoolExecutor(max_workers=max(1, args.parallel_clients)) as ex:
                reports = list(ex.map(one, range(args.clients)))
            t_clients = time.perf_counter() - t_round
            t_close = time.perf_counter()
            closed = admin.close_round(round_id)
            close_s = time.perf_counter() - t_close
            status_doc = admin.status(round_id)
            if closed.get("state") == "closed":
                model = admin.model(round_id, "result")
            acc = float(evaluate(model, test, hidden=hidden))
            rejected: Counter[str] = Counter()
            for _i, rep, malicious in reports:
                res = rep.result
                ok = res is not None and res.accepted
                if not ok:
                    reason = (res.reason if res is not None else None) or "error"
                    rejected[reason] += 1
                if malicious:
                    poisoned_total += 1
                    if not ok:
                        poisoned_rejected += 1
                        poisoned_reasons[(res.reason if res else None) or "error"] += 1
                elif not ok:
                    honest_rejected += 1
            n = len(reports)

            def mean(key: str, reports: list[Any] = reports, n: int = n) -> float:
                return sum(r.timings.get(key, 0.0) for _, r, _ in reports) / n / 1000

            rounds.append({
                "round": round_id, "accuracy": round(acc, 4),
                "accepted": int(status_doc["accepted"]), "rejected": dict(rejected),
                "state": closed.get("state"),
                "timings_s": {
                    "train": round(mean("train_ms"), 3),
                    "encrypt": round(mean("encrypt_ms"), 3),
                    "prove": round(mean("prove_ms"), 3),
                    "submit_verify": round(mean("submit_ms"), 3),
                    "clients_wall": round(t_clients, 3),
                    "close_decrypt": round(close_s, 3),
                    "round_wall": round(time.perf_counter() - t_round, 3)},
                "bytes": {"ciphertexts": reports[0][1].ciphertext_bytes,
                          "proof": reports[0][1].proof_bytes},
            })
            if not quiet:
                r = rounds[-1]
                console.print(f"round {round_id}: accuracy {acc:.3f}, accepted "
                              f"{r['accepted']}, rejected {dict(rejected) or '-'} "
                              f"({r['timings_s']['round_wall']:.1f} s)")
        for c in clients:
            c.close()
        admin.close()
    finally:
        if status:
            status.stop()
        dep.stop()
    poisoned_ok = poisoned_total > 0 and poisoned_rejected == poisoned_total
    if args.malicious_client <= 0 or args.malicious_from > args.rounds:
        poisoned_ok = poisoned_total == 0
    out = {"rounds": [{k: r[k] for k in ("round", "accuracy", "accepted", "rejected",
                                         "timings_s")} for r in rounds],
           "poisoned_rejected": bool(poisoned_ok),
           "poisoned_reasons": dict(poisoned_reasons),
           "honest_rejected": honest_rejected,
           "params": params_doc["params"], "d": int(model0.size),
           "ciphertext_bytes": rounds[0]["bytes"]["ciphertexts"] if rounds else 0,
           "proof_bytes": rounds[0]["bytes"]["proof"] if rounds else 0,
           "startup_s": round(startup_s, 2),
           "total_s": round(time.perf_counter() - t_start, 2)}
    ok = (len(rounds) == args.rounds and honest_rejected == 0 and poisoned_ok
          and all(r["state"] == "closed" for r in rounds))
    if args.json:
        print(json.dumps(out))
    else:
        _table(console, rounds, out)
    if tmp is not None:
        tmp.cleanup()
    out["ok"] = ok
    return out


def _table(console: Any, rounds: list[dict[str, Any]], out: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title="zkflpq demo: federated rounds over REST (verified before aggregation)")
    for col in ("round", "accuracy", "accepted", "rejected (reason: n)", "train s",
                "encrypt s", "prove s", "submit+verify s", "close+decrypt s", "round s"):
        t.add_column(col, justify="right" if col != "rejected (reason: n)" else "left")
    for r in rounds:
        ts = r["timings_s"]
        rej = ", ".join(f"{k}: {v}" for k, v in r["rejected"].items()) or "-"
        t.add_row(str(r["round"]), f"{r['accuracy']:.3f}", str(r["accepted"]), rej,
                  f"{ts['train']:.2f}", f"{ts['encrypt']:.2f}", f"{ts['prove']:.2f}",
                  f"{ts['submit_verify']:.2f}", f"{ts['close_decrypt']:.2f}",
                  f"{ts['round_wall']:.1f}")
    console.print(t)
    console.print(
        f"per-client times are means over clients; ciphertexts {out['ciphertext_bytes']:,} B "
        f"+ proof {out['proof_bytes']:,} B per update; poisoned updates rejected: "
        f"{'yes' if out['poisoned_rejected'] else 'NO'} {out['poisoned_reasons'] or ''}; "
        f"honest updates rejected: {out['honest_rejected']}; total {out['total_s']:.1f} s")
