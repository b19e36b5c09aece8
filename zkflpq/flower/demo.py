"""``zkflpq flower-demo [--json] [--mode zkflpq|fedavg]``: the Flower app through
``flwr.simulation.run_simulation`` — 5 SuperNodes, the paper's data (synthetic medical,
Dirichlet split) and MLP, one poisoning client from round 3 (Gaussian noise N(0, 50²),
unclipped, with a proof made for other ciphertexts). Prints per round: accuracy, accepted,
rejected with reasons, round time, bytes per client message. ``--mode fedavg`` runs the
same app with plain FedAvg (no mod, no wrapper) for the side-by-side comparison.

The caller passes the key authority factory (the command line passes
``services.flower.InProcessKeyAuthority``): this package never imports services.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_arguments", "build_apps", "run", "run_and_print"]


def _task(args: argparse.Namespace) -> dict[str, Any]:
    from zkflpq.fl.data import (
        dirichlet_split,
        make_synthetic_medical,
        standardize,
        train_test_split,
    )

    ds = make_synthetic_medical(args.samples, args.features, 4, seed=args.seed)
    train, test = train_test_split(ds, seed=args.seed)
    train, test = standardize(train, test)
    parts = dirichlet_split(train, args.clients, alpha=0.5, seed=args.seed)
    return {"parts": parts, "test": test}


def _server_round(msg: Any) -> int:
    """The round number the ServerApp put in the train message's config record."""
    config: Any = msg.content["config"]
    return int(config.get("server-round", 0))


def build_apps(args: argparse.Namespace, key_dir: Path, log: list[dict[str, Any]],
               ka: Any = None):
    """The ServerApp and ClientApp of the demo; `ka` is the key authority (zkflpq mode)."""
    from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg

    from zkflpq.fl.model import flatten_params, make_mlp
    from zkflpq.fl.training import evaluate, local_train

    hidden = tuple(int(h) for h in args.hidden.split(","))
    task = _task(args)
    template = make_mlp(args.features, hidden, 4, seed=args.seed)

    def to_record(vec: np.ndarray) -> ArrayRecord:
        return ArrayRecord({"flat": Array(np.asarray(vec, dtype=np.float32))})

    client = ClientApp()
    if args.mode == "zkflpq":
        from zkflpq.flower.keys import load_signing_key, simulation_key_path
        from zkflpq.flower.mod import make_zkflpq_mod
        from zkflpq.zkbridge import forge_mismatched_update

        pin = (key_dir / "ka.fingerprint").read_text().strip()

        def demo_mod(msg: Message, ctx: Context, call_next):
            pid = int(ctx.node_config["partition-id"])
            sk = load_signing_key(simulation_key_path(key_dir, pid))
            rnd = _server_round(msg)
            evil = pid + 1 == args.malicious_client and rnd >= args.malicious_from
            if evil:
                rng = np.random.default_rng(rnd)
                mod = make_zkflpq_mod(signing_key=sk, ka_fingerprint=pin, clip=False,
                                      build=forge_mismatched_update,
                                      transform=lambda u, r: rng.normal(0, 50, u.shape))
            else:
                mod = make_zkflpq_mod(signing_key=sk, ka_fingerprint=pin)
            return mod(msg, ctx, call_next)

        client = ClientApp(mods=[demo_mod])

    @client.train()
    def train(msg: Message, ctx: Context) -> Message:
        pid = int(ctx.node_config["partition-id"])
        arrays: Any = msg.content["arrays"]
        g = arrays["flat"].numpy()
        rnd = _server_round(msg)
        upd = local_train(g, task["parts"][pid], epochs=args.epochs, lr=0.01,
                          seed=args.seed + 1000 * rnd + pid, hidden=hidden)
        if args.mode == "fedavg" and pid + 1 == args.malicious_client and \
                rnd >= args.malicious_from:
            upd = np.random.default_rng(rnd).normal(0, 50, upd.shape).astype(np.float32)
        return Message(RecordDict({"arrays": to_record(g + upd), "metrics": MetricRecord(
            {"num-examples": len(task["parts"][pid])})}), reply_to=msg)

    server = ServerApp()

    @server.main()
    def main(grid: Grid, ctx: Context) -> None:
        inner = FedAvg(fraction_train=1.0, fraction_evaluate=0.0,
                       min_available_nodes=args.clients, min_train_nodes=args.clients)
        strategy: Any = inner
        if args.mode == "zkflpq":
            from zkflpq.flower import ZkflpqStrategy

            strategy = ZkflpqStrategy(inner, ka, k_min=args.k_min, tau=args.tau,
                                      scale=args.scale, workers=args.workers)
        t_round = [time.perf_counter()]
        orig = strategy.aggregate_train

        def aggregate_train(rnd, replies):
            replies = list(replies)
            sizes = [_msg_bytes(m) for m in replies if not m.has_error()]
            arrays, metrics = orig(rnd, replies)
            vec = (arrays or strategy_arrays[0])["flat"].numpy()
            if arrays is not None:
                strategy_arrays[0] = arrays
            acc = evaluate(vec, task["test"], hidden=hidden)
            row: dict[str, Any] = {"round": rnd, "accuracy": round(float(acc), 4),
                                   "round_s": round(time.perf_counter() - t_round[0], 2),
                                   "bytes_per_client_msg": int(np.mean(sizes)) if sizes else 0}
            if args.mode == "zkflpq":
                out = strategy.history[rnd]
                row.update(accepted=len(out.accepted), rejected=out.reasons(),
                           decrypted=out.decrypted, verify_s=round(out.verify_s, 2))
            else:
                row.update(accepted=len(sizes), rejected={})
            log.append(row)
            t_round[0] = time.perf_counter()
            return arrays, metrics

        strategy.aggregate_train = aggregate_train
        init = to_record(flatten_params(template))
        strategy_arrays = [init]
        strategy.start(grid=grid, initial_arrays=init, num_rounds=args.rounds, timeout=3600)

    return server, client


def _msg_bytes(m: Any) -> int:
    """Payload bytes of a reply: the arrays' or the zkflpq record's bytes."""
    total = 0
    for rec in m.content.array_records.values():
        total += sum(a.numpy().nbytes for a in rec.values())
    for rec in m.content.config_records.values():
        total += sum(len(v) for v in rec.values() if isinstance(v, bytes))
    return total


def run(args: argparse.Namespace, key_authority: Callable[..., Any]) -> dict[str, Any]:
    """Run the simulation; `key_authority(params_name, min_clients=...)` makes a fresh
    in-process key authority (used in zkflpq mode only)."""
    from flwr.simulation import run_simulation

    log: list[dict[str, Any]] = []
    ka = None
    with tempfile.TemporaryDirectory(prefix="zkflpq-flower-demo-") as tmp:
        key_dir = Path(tmp) / "keys"
        if args.mode == "zkflpq":
            from zkflpq.flower.keys import provision_keys

            ka = key_authority(args.params_name, min_clients=2)
            vks = provision_keys(key_dir, args.clients)
            ka.enrol(vks)   # the operator's enrolment step, done here for the simulation
            (key_dir / "ka.fingerprint").write_text(ka.fingerprint + "\n")
        server, client = build_apps(args, key_dir, log, ka)
        t0 = time.perf_counter()
        run_simulation(server_app=server, client_app=client, num_supernodes=args.clients,
                       backend_config={"client_resources": {"num_cpus": 1}})
        total = time.perf_counter() - t0
    return {"mode": args.mode, "params": args.params_name, "rounds": log,
            "total_s": round(total, 1)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's options (``zkflpq flower-demo``)."""
    p.add_argument("--json", action="store_true")
    p.add_argument("--mode", choices=["zkflpq", "fedavg"], default="zkflpq")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=5)
    p.add_argument("--malicious-client", type=int, default=3)
    p.add_argument("--malicious-from", type=int, default=3)
    p.add_argument("--params", dest="params_name", default="zkflpq-bfv3-n4096-q81-t34-l8")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--features", type=int, default=784)
    p.add_argument("--hidden", default="128,64")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--tau", type=float, default=5.0)
    p.add_argument("--scale", type=float, default=65536.0)
    p.add_argument("--k-min", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)


def run_and_print(args: argparse.Namespace, key_authority: Callable[..., Any]) -> int:
    result = run(args, key_authority)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{'round':>5} {'acc':>7} {'accepted':>8} {'round_s':>8} {'bytes/msg':>10}  rejected")
        for r in result["rounds"]:
            print(f"{r['round']:>5} {r['accuracy']:>7.4f} {r['accepted']:>8} {r['round_s']:>8} "
                  f"{r['bytes_per_client_msg']:>10}  {r['rejected']}")
    return 0

