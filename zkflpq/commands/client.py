"""`zkflpq client keygen|run`: a hospital's client agent."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("client", help="client agent: keygen, run rounds")
    sub = p.add_subparsers(dest="client_command", metavar="ACTION", required=True)
    k = sub.add_parser("keygen", help="create an ML-DSA-65 signing key (client.sig, 0600) "
                                      "and its public key (client.sig.pub)")
    k.add_argument("--out", type=Path, required=True, help="directory")
    k.set_defaults(func=_keygen)
    r = sub.add_parser("run", help="take part in rounds: download, train, clip, encrypt, "
                                   "prove, sign, seal, submit")
    r.add_argument("--aggregator-url", required=True)
    r.add_argument("--key", type=Path, required=True, help="client.sig")
    r.add_argument("--aggregator-fingerprint", default=None)
    r.add_argument("--key-authority-fingerprint", default=None,
                   help="pin the key authority (its signing-key fingerprint); every update "
                        "is signed for this key authority only")
    r.add_argument("--min-k-min", type=int, default=2,
                   help="refuse rounds whose K_min (clients in every decrypted sum) is "
                        "lower (default 2)")
    r.add_argument("--rounds", type=int, default=1, help="rounds to take part in")
    r.add_argument("--data", default="synthetic:0/5",
                   help="synthetic:I/N (shard I of N of the synthetic medical set) or an .npz "
                        "file with X (n, features) and y (n,)")
    r.add_argument("--epochs", type=int, default=3)
    r.add_argument("--lr", type=float, default=0.01)
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--timeout", type=float, default=120.0)
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=_run_guarded)


def _keygen(args: argparse.Namespace) -> int:
    from services.common.protocol import client_id_for
    from zkflpq.pq import SigningKey, save_key

    args.out.mkdir(parents=True, exist_ok=True)
    sk = SigningKey.generate()
    save_key(args.out / "client.sig", sk)
    save_key(args.out / "client.sig.pub", sk.verify_key())
    print(json.dumps({"client_id": client_id_for(sk.verify_key()),
                      "fingerprint": sk.verify_key().fingerprint(),
                      "public_key": str(args.out / "client.sig.pub")}, indent=2))
    return 0


def _dataset(spec: str):
    from zkflpq.fl import Dataset, dirichlet_split, make_synthetic_medical, train_test_split

    if spec.startswith("synthetic:"):
        i, n = (int(x) for x in spec.split(":", 1)[1].split("/"))
        train, _ = train_test_split(make_synthetic_medical(seed=42), 0.2)
        return dirichlet_split(train, n, alpha=0.5, seed=42)[i]
    import numpy as np

    data = np.load(spec)
    y = data["y"].astype(np.int64)
    return Dataset(data["X"], y, int(y.max()) + 1, Path(spec).stem)


def _run_guarded(args: argparse.Namespace) -> int:
    import sys

    import httpx

    from zkflpq.agent import ProtocolError

    try:
        return _run(args)
    except ProtocolError as exc:
        print(f"zkflpq client: {exc.status} {exc.reason}: {exc.detail}", file=sys.stderr)
    except httpx.HTTPError as exc:
        print(f"zkflpq client: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace) -> int:
    from zkflpq.agent import AggregatorClient, ClientAgent, ProtocolError
    from zkflpq.fl import local_train
    from zkflpq.pq import SigningKey, load_key

    sk = load_key(args.key, SigningKey)
    ds = _dataset(args.data)
    hidden: tuple[int, ...] | None = None

    def train(model, cfg):
        from zkflpq.fl import layout_from_json

        nonlocal hidden
        if hidden is None:
            layout = layout_from_json(cfg["layout"]) if cfg.get("layout") else []
            hidden = tuple(shape[0] for _, shape in layout[0:-2:2]) if layout else (128, 64)
        return local_train(model, ds, args.epochs, args.lr, args.batch_size, seed=None,
                           hidden=hidden)

    done = 0
    last_round = None
    with AggregatorClient(args.aggregator_url, signing_key=sk, timeout=args.timeout,
                          aggregator_fingerprint=args.aggregator_fingerprint,
                          key_authority_fingerprint=args.key_authority_fingerprint,
                          min_k_min=args.min_k_min) as client:
        agent = ClientAgent(client, train, progress=not args.no_progress)
        while done < args.rounds:
            try:
                cfg = client.current_round()
            except ProtocolError as exc:
                if exc.status == 404:
                    time.sleep(2)
                    continue
                raise
            if cfg["round_id"] == last_round:
                time.sleep(2)
                continue
            report = agent.run_round(cfg)
            last_round = cfg["round_id"]
            done += 1
            res = report.result
            print(json.dumps({"round_id": report.round_id, "client_id": report.client_id,
                              "status": res.status if res else None,
                              "verdict": res.verdict if res else None,
                              "reason": res.reason if res else None,
                              "update_norm": round(report.update_norm, 4),
                              "timings_ms": report.timings}))
    return 0
