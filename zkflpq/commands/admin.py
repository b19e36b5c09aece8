"""`zkflpq admin enrol|open-round|close-round|status`: admin calls (bearer token).

The token comes from --token-file, else $ZKFLPQ_ADMIN_TOKEN, else <--data-dir>/admin.token;
it is sent only in the Authorization header and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("admin", help="admin: enrol clients, open/close rounds, status")
    p.add_argument("--aggregator-url", default=os.environ.get("ZKFLPQ_AGGREGATOR_URL"))
    p.add_argument("--key-authority-url", default=os.environ.get("ZKFLPQ_KEY_AUTHORITY_URL"))
    p.add_argument("--token-file", type=Path, default=None)
    p.add_argument("--key-authority-token-file", type=Path, default=None,
                   help="if the key authority has its own token (default: the same)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="read admin.token from this directory")
    sub = p.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    e = sub.add_parser("enrol", help="enrol a client (at both services) or, with --aggregator, "
                                     "an aggregator's signing key at the key authority")
    e.add_argument("public_key", type=Path, help="ML-DSA-65 public key file (*.sig.pub)")
    e.add_argument("--label", default="")
    e.add_argument("--aggregator", action="store_true",
                   help="the key is an aggregator's: register it at the key authority")
    e.add_argument("--aggregator-id", default=None,
                   help="default: aggregator-<fingerprint[:16]>")
    e.set_defaults(func=_guard(_enrol))

    o = sub.add_parser("open-round", help="open a round")
    o.add_argument("--tau", type=float, default=5.0)
    o.add_argument("--scale", type=float, default=65536.0)
    o.add_argument("--k-min", type=int, default=2)
    o.add_argument("--deadline-s", type=float, default=None)
    o.add_argument("--model-npy", type=Path, default=None, help="initial model (float vector)")
    o.add_argument("--layout-json", type=Path, default=None)
    o.add_argument("--mlp", default=None,
                   help="initial MLP 'in,hidden...,out' (e.g. 784,128,64,4) with --seed")
    o.add_argument("--seed", type=int, default=0)
    o.set_defaults(func=_guard(_open))

    c = sub.add_parser("close-round", help="aggregate via the key authority and publish")
    c.add_argument("round_id", type=int)
    c.set_defaults(func=_guard(_close))

    s = sub.add_parser("status", help="round status (default: the open round)")
    s.add_argument("round_id", type=int, nargs="?")
    s.set_defaults(func=_guard(_status))


def _token(path: Path | None, data_dir: Path | None) -> str | None:
    if path is not None:
        return path.read_text().strip()
    if os.environ.get("ZKFLPQ_ADMIN_TOKEN"):
        return os.environ["ZKFLPQ_ADMIN_TOKEN"]
    if data_dir is not None and (data_dir / "admin.token").exists():
        return (data_dir / "admin.token").read_text().strip()
    return None


def _client(args: argparse.Namespace) -> Any:
    from zkflpq.agent import AdminClient

    token = _token(args.token_file, args.data_dir)
    ka_token = _token(args.key_authority_token_file, None) if args.key_authority_token_file \
        else token
    return AdminClient(args.aggregator_url, args.key_authority_url, token=token,
                       key_authority_token=ka_token)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _guard(fn: Any) -> Any:
    """Turn HTTP/protocol failures into one line on stderr and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        import sys

        import httpx

        from zkflpq.agent import ProtocolError

        try:
            return int(fn(args) or 0)
        except ProtocolError as exc:
            print(f"zkflpq admin: {exc.status} {exc.reason}: {exc.detail}", file=sys.stderr)
        except httpx.HTTPError as exc:
            print(f"zkflpq admin: {type(exc).__name__}: {exc}", file=sys.stderr)
        except (OSError, ValueError) as exc:
            print(f"zkflpq admin: {exc}", file=sys.stderr)
        return 1

    return run


def _enrol(args: argparse.Namespace) -> int:
    from zkflpq.pq import VerifyKey, load_key

    vk = load_key(args.public_key, VerifyKey)
    with _client(args) as admin:
        if args.aggregator:
            agg_id = args.aggregator_id or "aggregator-" + vk.fingerprint()[:16]
            _print(admin.enrol_aggregator(agg_id, vk))
        else:
            _print(admin.enrol_client(vk, args.label))
    return 0


def _open(args: argparse.Namespace) -> int:
    import numpy as np

    model = None
    layout = ""
    if args.model_npy is not None:
        model = np.load(args.model_npy).astype(np.float32).reshape(-1)
        if args.layout_json is not None:
            layout = args.layout_json.read_text()
    elif args.mlp:
        from zkflpq.fl import flatten_params, layout_to_json, make_mlp, model_layout

        dims = [int(x) for x in args.mlp.split(",")]
        net = make_mlp(dims[0], dims[1:-1], dims[-1], seed=args.seed)
        model, layout = flatten_params(net), layout_to_json(model_layout(net))
    with _client(args) as admin:
        _print(admin.open_round(tau=args.tau, scale=args.scale, k_min=args.k_min,
                                deadline_s=args.deadline_s, model=model, layout=layout))
    return 0


def _close(args: argparse.Namespace) -> int:
    with _client(args) as admin:
        _print(admin.close_round(args.round_id))
    return 0


def _status(args: argparse.Namespace) -> int:
    with _client(args) as admin:
        _print(admin.status(args.round_id))
    return 0
