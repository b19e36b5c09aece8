"""`zkflpq admin enrol|open-round|close-round|status|model`: admin calls (bearer token).

Each service has an admin token. The aggregator's comes from --token-file, else
$ZKFLPQ_ADMIN_TOKEN, else <--data-dir>/admin.token; the key authority's from
--key-authority-token-file, else the same. Tokens are sent only in the Authorization
header and never printed. Errors name the service that refused. Exit status: 0 done,
1 an error, 2 a usage error, 3 a round that failed to close.

``open-round --tau auto`` lets the aggregator derive τ from its past rounds (the adaptive
rule of :mod:`zkflpq.fl.adaptive_tau`); ``--tau-multiplier``, ``--tau-floor``,
``--tau-ceiling``, ``--tau-window`` and ``--tau-initial`` set the rule and are refused
with a number τ.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from zkflpq.fl.adaptive_tau import AdaptiveTau  # light: no torch, no crypto

from ._errors import EXIT_REFUSED, CliError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("admin", help="admin: enrol clients, open/close rounds, status")
    p.add_argument("--aggregator-url", default=os.environ.get("ZKFLPQ_AGGREGATOR_URL"))
    p.add_argument("--key-authority-url", default=os.environ.get("ZKFLPQ_KEY_AUTHORITY_URL"))
    p.add_argument("--token-file", type=Path, default=None,
                   help="admin token file (e.g. agg/admin.token); also used for the key "
                        "authority unless --key-authority-token-file is given")
    p.add_argument("--key-authority-token-file", type=Path, default=None,
                   help="the key authority's admin token file (e.g. ka/admin.token)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="read admin.token from this directory")
    p.add_argument("--ca-file", type=Path, default=None,
                   help="CA bundle to verify https:// services against")
    sub = p.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    e = sub.add_parser("enrol", help="enrol a client (at both services) or, with --aggregator, "
                                     "an aggregator's signing key at the key authority")
    e.add_argument("public_key", type=Path, help="ML-DSA-65 public key file (*.sig.pub)")
    e.add_argument("--label", default="")
    e.add_argument("--aggregator", action="store_true",
                   help="the key is an aggregator's: register it at the key authority")
    e.add_argument("--aggregator-id", default=None,
                   help="default: aggregator-<fingerprint[:16]>")
    e.set_defaults(func=_enrol)

    o = sub.add_parser("open-round", help="open a round")
    o.add_argument("--tau", type=_tau_value, default=5.0,
                   help="L2 norm bound τ of the updates (default 5), or 'auto': derived by "
                        "the aggregator from the norms of its last closed rounds' means")
    for name, kind, what in _TAU_RULE_OPTIONS:
        o.add_argument(f"--tau-{name}", type=kind, default=None,
                       help=f"with --tau auto: {what}")
    o.add_argument("--scale", type=float, default=65536.0)
    o.add_argument("--k-min", type=int, default=2)
    o.add_argument("--deadline-s", type=float, default=None)
    o.add_argument("--model-npy", type=Path, default=None, help="initial model (float vector)")
    o.add_argument("--layout-json", type=Path, default=None)
    o.add_argument("--mlp", default=None,
                   help="initial MLP 'in,hidden...,out' (e.g. 784,128,64,4) with --seed")
    o.add_argument("--seed", type=int, default=0)
    o.set_defaults(func=_open, open_round_parser=o)

    c = sub.add_parser("close-round", help="aggregate via the key authority and publish")
    c.add_argument("round_id", type=int)
    c.set_defaults(func=_close)

    s = sub.add_parser("status", help="round status (default: the open round)")
    s.add_argument("round_id", type=int, nargs="?")
    s.set_defaults(func=_status)

    m = sub.add_parser("model", help="download a round's model (the published result by "
                                     "default) and optionally measure its accuracy")
    m.add_argument("round_id", type=int)
    m.add_argument("--stage", choices=["result", "start"], default="result")
    m.add_argument("--out", type=Path, default=None, help="write the float32 vector (.npy)")
    m.add_argument("--evaluate", default=None, metavar="DATA",
                   help="accuracy on DATA: an .npz with X and y, or 'synthetic' (the "
                        "synthetic medical set's held-out 20 %%)")
    m.set_defaults(func=_model)


# (option suffix, type, help) of the adaptive rule's parameters: --tau-<suffix> sets the
# rule's field of the same name (zkflpq.fl.adaptive_tau.AdaptiveTau, whose defaults the
# help quotes; the aggregator checks the values and names a refused one).
_TAU_RULE_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("multiplier", float, "τ = multiplier · max over the window of sqrt(K)·‖mean update‖ "
                          f"(default {AdaptiveTau.multiplier:g})"),
    ("floor", float, f"least τ (default {AdaptiveTau.floor:g})"),
    ("ceiling", float, f"largest τ (default {AdaptiveTau.ceiling:g})"),
    ("window", int, "past closed rounds of the same model size it looks at "
                    f"(default {AdaptiveTau.window})"),
    ("initial", float, "τ when there is no such round (default: the ceiling)"),
)


def _tau_value(text: str) -> float | str:
    """--tau: a number or 'auto' (argparse turns the ValueError into a usage error)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


def _tau_rule(args: argparse.Namespace) -> dict[str, Any] | None:
    """The --tau-* options given, as the aggregator's tau_rule (None when none is given);
    a usage error (exit 2) with a number τ, which they would not affect."""
    given = {name: getattr(args, f"tau_{name}") for name, _, _ in _TAU_RULE_OPTIONS
             if getattr(args, f"tau_{name}") is not None}
    if given and args.tau != "auto":
        options = ", ".join(f"--tau-{name}" for name in given)
        args.open_round_parser.error(f"{options}: only with --tau auto "
                                     f"(--tau is {args.tau:g})")
    return given or None


def _read_token(path: Path, what: str) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise CliError(f"{what} {path}: {exc.strerror or exc}") from None
    if not token:
        raise CliError(f"{what} {path} is empty")
    return token


def _token(path: Path | None, data_dir: Path | None) -> str | None:
    if path is not None:
        return _read_token(path, "token file")
    if os.environ.get("ZKFLPQ_ADMIN_TOKEN"):
        return os.environ["ZKFLPQ_ADMIN_TOKEN"]
    if data_dir is not None and (data_dir / "admin.token").exists():
        return _read_token(data_dir / "admin.token", "token file")
    return None


def _client(args: argparse.Namespace) -> Any:
    from zkflpq.agent import AdminClient

    if not args.aggregator_url and not args.key_authority_url:
        raise CliError("no service URL: pass --aggregator-url and/or --key-authority-url "
                       "(or set ZKFLPQ_AGGREGATOR_URL / ZKFLPQ_KEY_AUTHORITY_URL)")
    token = _token(args.token_file, args.data_dir)
    ka_token = (_read_token(args.key_authority_token_file, "token file")
                if args.key_authority_token_file else token)
    if (args.aggregator_url and not token) or (args.key_authority_url and not ka_token):
        raise CliError("no admin token: pass --token-file FILE (the aggregator's, e.g. "
                       "agg/admin.token) and --key-authority-token-file FILE (e.g. "
                       "ka/admin.token), or set ZKFLPQ_ADMIN_TOKEN")
    return AdminClient(args.aggregator_url, args.key_authority_url, token=token,
                       key_authority_token=ka_token,
                       verify=str(args.ca_file) if args.ca_file else True)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _enrol(args: argparse.Namespace) -> int:
    from zkflpq.pq import DecodeError, VerifyKey, load_key

    try:
        vk = load_key(args.public_key, VerifyKey)
    except DecodeError as exc:
        raise CliError(f"{args.public_key}: not an ML-DSA-65 public key file ({exc})") from None
    with _client(args) as admin:
        if args.aggregator:
            agg_id = args.aggregator_id or "aggregator-" + vk.fingerprint()[:16]
            _print(admin.enrol_aggregator(agg_id, vk))
        else:
            _print(admin.enrol_client(vk, args.label))
    return 0


def _open(args: argparse.Namespace) -> int:
    import numpy as np

    tau_rule = _tau_rule(args)  # a usage error before any file is read or service called
    model = None
    layout = ""
    if args.model_npy is not None:
        try:
            model = np.load(args.model_npy, allow_pickle=False).astype(np.float32).reshape(-1)
        except (ValueError, AttributeError) as exc:
            raise CliError(f"--model-npy {args.model_npy}: not a .npy float vector "
                           f"({exc})") from None
        if args.layout_json is not None:
            layout = args.layout_json.read_text()
    elif args.mlp:
        from zkflpq.fl import flatten_params, layout_to_json, make_mlp, model_layout

        try:
            dims = [int(x) for x in args.mlp.split(",")]
        except ValueError:
            dims = []
        if len(dims) < 2 or min(dims) < 1:
            raise CliError(f"--mlp {args.mlp!r}: expected layer sizes 'in,hidden...,out', "
                           "e.g. 784,128,64,4")
        net = make_mlp(dims[0], dims[1:-1], dims[-1], seed=args.seed)
        model, layout = flatten_params(net), layout_to_json(model_layout(net))
    with _client(args) as admin:
        _print(admin.open_round(tau=args.tau, scale=args.scale, k_min=args.k_min,
                                deadline_s=args.deadline_s, model=model, layout=layout,
                                tau_rule=tau_rule))
    return 0


def _close(args: argparse.Namespace) -> int:
    import sys

    with _client(args) as admin:
        out = admin.close_round(args.round_id)
    _print(out)
    if out.get("state") != "closed":
        print(f"zkflpq admin: round {args.round_id} {out.get('state')}: "
              f"{out.get('failure') or 'not closed'}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


def _status(args: argparse.Namespace) -> int:
    with _client(args) as admin:
        _print(admin.status(args.round_id))
    return 0


def _model(args: argparse.Namespace) -> int:
    import numpy as np

    with _client(args) as admin:
        st = admin.status(args.round_id)
        vec = admin.model(args.round_id, args.stage)
    out: dict[str, Any] = {"round_id": args.round_id, "stage": args.stage, "state": st["state"],
                           "d": int(vec.size)}
    if args.out is not None:
        np.save(args.out, vec)
        out["out"] = str(args.out)
    if args.evaluate is not None:
        out["accuracy"] = _accuracy(vec, st, args.evaluate)
        out["evaluated_on"] = args.evaluate
    _print(out)
    return 0


def _accuracy(vec: Any, status: dict[str, Any], spec: str) -> float:
    from zkflpq.fl import evaluate, make_synthetic_medical, train_test_split

    from .client import _check_data, _model_shape, load_dataset

    shape = _model_shape(status)
    if spec == "synthetic":
        _, ds = train_test_split(make_synthetic_medical(seed=42), 0.2)
    else:
        ds = load_dataset(spec, shape[2] if shape else None)
    hidden = _check_data(ds, spec, status)
    return round(evaluate(vec, ds, hidden=hidden), 4)
