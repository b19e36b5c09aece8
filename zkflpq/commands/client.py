"""`zkflpq client keygen|run`: a hospital's client agent.

`client run` exits 0 when every update it sent was accepted, 1 on an error (bad
``--data``, the aggregator unreachable or not an aggregator, no usable round within
``--wait-s``), 3 when an update was refused (rejected proof, duplicate, round closed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ._errors import EXIT_REFUSED, CliError

__all__ = ["load_dataset", "register"]

DEFAULT_WAIT_S = 120.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("client", help="client agent: keygen, run rounds")
    sub = p.add_subparsers(dest="client_command", metavar="ACTION", required=True)
    k = sub.add_parser("keygen", help="create an ML-DSA-65 signing key (client.sig, 0600) "
                                      "and its public key (client.sig.pub)")
    k.add_argument("--out", type=Path, required=True, help="directory")
    k.set_defaults(func=_keygen)
    r = sub.add_parser("run", help="take part in rounds: download, train, clip, encrypt, "
                                   "prove, sign, seal, submit",
                       description="Exit status: 0 every update accepted, 1 an error, "
                                   "3 an update refused by the aggregator.")
    r.add_argument("--aggregator-url", required=True,
                   help="the aggregator's base URL, e.g. http://127.0.0.1:8000")
    r.add_argument("--key", type=Path, required=True, help="client.sig")
    r.add_argument("--data", required=True,
                   help="this hospital's training data: an .npz file with X (n, features) "
                        "float and y (n,) integer labels, or synthetic:I/N (shard I of N, "
                        "0-based, of the built-in synthetic medical set, for trials)")
    r.add_argument("--aggregator-fingerprint", default=None)
    r.add_argument("--key-authority-fingerprint", default=None,
                   help="pin the key authority (its signing-key fingerprint); every update "
                        "is signed for this key authority only")
    r.add_argument("--min-k-min", type=int, default=2,
                   help="refuse rounds whose K_min (clients in every decrypted sum) is "
                        "lower (default 2)")
    r.add_argument("--rounds", type=int, default=1, help="rounds to take part in")
    r.add_argument("--wait-s", type=float, default=DEFAULT_WAIT_S,
                   help="give up when no round this client can join opens within this many "
                        f"seconds (default {DEFAULT_WAIT_S:.0f})")
    r.add_argument("--wait", action="store_true", help="wait for rounds indefinitely")
    r.add_argument("--poll-s", type=float, default=2.0, help=argparse.SUPPRESS)
    r.add_argument("--epochs", type=int, default=3)
    r.add_argument("--lr", type=float, default=0.01)
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--timeout", type=float, default=120.0, help="per HTTP request, seconds")
    r.add_argument("--ca-file", type=Path, default=None,
                   help="CA bundle to verify an https:// aggregator against")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=_run)


def _keygen(args: argparse.Namespace) -> int:
    from zkflpq.pq import SigningKey, save_key
    from zkflpq.protocol import client_id_for

    existing = [p for p in (args.out / "client.sig", args.out / "client.sig.pub") if p.exists()]
    if existing:
        raise CliError(f"{existing[0]} already exists: refusing to overwrite a client key "
                       "(its client id is enrolled); choose another --out")
    args.out.mkdir(parents=True, exist_ok=True)
    sk = SigningKey.generate()
    save_key(args.out / "client.sig", sk)
    save_key(args.out / "client.sig.pub", sk.verify_key())
    print(json.dumps({"client_id": client_id_for(sk.verify_key()),
                      "fingerprint": sk.verify_key().fingerprint(),
                      "public_key": str(args.out / "client.sig.pub")}, indent=2))
    return 0


def load_dataset(spec: str, n_classes: int | None = None) -> Any:
    """``--data``: ``synthetic:I/N`` or an ``.npz`` with ``X`` (n, features), ``y`` (n,).

    Raises :class:`CliError` with one line for every malformed value."""
    from zkflpq.fl import Dataset, dirichlet_split, make_synthetic_medical, train_test_split

    if spec.startswith("synthetic:"):
        shard = spec.split(":", 1)[1]
        try:
            i_s, n_s = shard.split("/")
            i, n = int(i_s), int(n_s)
        except ValueError:
            raise CliError(f"--data {spec!r}: expected synthetic:I/N with integers, "
                           "e.g. synthetic:0/5") from None
        if not 1 <= n <= 100 or not 0 <= i < n:
            raise CliError(f"--data {spec!r}: need 1 <= N <= 100 and 0 <= I < N")
        train, _ = train_test_split(make_synthetic_medical(seed=42), 0.2)
        return dirichlet_split(train, n, alpha=0.5, seed=42)[i]
    import zipfile

    import numpy as np

    path = Path(spec)
    if not path.is_file():
        raise CliError(f"--data {spec!r}: no such file (expected an .npz file or "
                       "synthetic:I/N)")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CliError(f"--data {spec}: not a readable .npz file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise CliError(f"--data {spec}: a single array, not an .npz archive with X and y "
                       "(np.savez(path, X=features, y=labels))")
    with data:
        missing = [k for k in ("X", "y") if k not in data.files]
        if missing:
            raise CliError(f"--data {spec}: the archive has {sorted(data.files)}; it needs "
                           "X (n, features) and y (n,)")
        try:
            X, y = data["X"], data["y"]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise CliError(f"--data {spec}: unreadable array ({exc})") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise CliError(f"--data {spec}: X must have shape (n, features) with n, features "
                       f">= 1, got {X.shape}")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)) \
            or not np.all(np.isfinite(X)):
        raise CliError(f"--data {spec}: X must be finite numbers (dtype {X.dtype})")
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise CliError(f"--data {spec}: y must be {X.shape[0]} integer labels, got "
                       f"{y.dtype} {y.shape}")
    if y.min() < 0:
        raise CliError(f"--data {spec}: labels must be >= 0")
    classes = int(y.max()) + 1 if n_classes is None else n_classes
    if y.max() >= classes:
        raise CliError(f"--data {spec}: labels go up to {int(y.max())}, the round's model "
                       f"has {classes} classes")
    return Dataset(X, y.astype(np.int64), classes, path.stem)


def _model_shape(cfg: dict[str, Any]) -> tuple[int, tuple[int, ...], int] | None:
    """(features, hidden sizes, classes) of the round's MLP, from its layout."""
    from zkflpq.fl import layout_from_json

    if not cfg.get("layout"):
        return None
    layout = layout_from_json(cfg["layout"])
    weights = [shape for _, shape in layout if len(shape) == 2]
    if not weights:
        return None
    return weights[0][1], tuple(w[0] for w in weights[:-1]), weights[-1][0]


def _check_data(ds: Any, spec: str, cfg: dict[str, Any]) -> tuple[int, ...]:
    shape = _model_shape(cfg)
    if shape is None:
        return (128, 64)
    features, hidden, classes = shape
    if ds.X.shape[1] != features:
        raise CliError(f"--data {spec}: {ds.X.shape[1]} features per sample, but round "
                       f"{cfg['round_id']}'s model takes {features} "
                       f"(MLP {'-'.join(map(str, (features, *hidden, classes)))})")
    if ds.n_classes > classes:
        raise CliError(f"--data {spec}: labels go up to {ds.n_classes - 1}, but round "
                       f"{cfg['round_id']}'s model has {classes} classes")
    return hidden


class _Waiter:
    """Polls for a round this client can join; says what it waits for, gives up on time."""

    def __init__(self, client: Any, args: argparse.Namespace) -> None:
        self.client, self.args = client, args
        self.limit = None if args.wait else max(0.0, args.wait_s)

    def say(self, text: str) -> None:
        print(f"zkflpq client: {text}", file=sys.stderr, flush=True)

    def next_round(self, done: set[int]) -> dict[str, Any]:
        from zkflpq.agent import ProtocolError

        t0 = time.monotonic()
        said: str | None = None
        last_said = 0.0
        while True:
            try:
                cfg = self.client.current_round()
                why = _unusable(cfg, done)
            except ProtocolError as exc:
                if exc.reason != "no_open_round":
                    raise
                why = "no round is open"
            if why is None:
                return cfg
            waited = time.monotonic() - t0
            if self.limit is not None and waited >= self.limit:
                raise CliError(f"{why} at {self.client.url}; gave up after {waited:.0f} s "
                               "(--wait-s SECONDS, or --wait to wait indefinitely)")
            if why != said or time.monotonic() - last_said > 30:
                until = "indefinitely" if self.limit is None else f"up to {self.limit:.0f} s"
                self.say(f"{why}; waiting {until} for a round to join")
                said, last_said = why, time.monotonic()
            time.sleep(self.args.poll_s)


def _unusable(cfg: dict[str, Any], done: set[int]) -> str | None:
    """Why this client cannot use the current round now (None: it can)."""
    rid = cfg["round_id"]
    if rid in done:
        return f"round {rid} is done for this client"
    if cfg.get("already_accepted"):
        return f"this client's update for round {rid} was already accepted"
    deadline = cfg.get("deadline")
    if cfg.get("accepting_updates") is False or (deadline is not None
                                                 and time.time() > float(deadline)):
        return f"round {rid}'s deadline has passed"
    return None


def _run(args: argparse.Namespace) -> int:
    from zkflpq.agent import AggregatorClient, ClientAgent
    from zkflpq.fl import local_train
    from zkflpq.pq import DecodeError, KeyFilePermissionError, SigningKey, load_key

    if args.rounds < 1:
        raise CliError("--rounds must be at least 1")
    try:
        sk = load_key(args.key, SigningKey)
    except (DecodeError, KeyFilePermissionError) as exc:
        raise CliError(f"--key {args.key}: {exc}") from None
    load_dataset(args.data)  # bad --data fails here, before any network traffic
    hidden: tuple[int, ...] = (128, 64)
    ds: Any = None

    def train(model: Any, cfg: dict[str, Any]) -> Any:
        return local_train(model, ds, args.epochs, args.lr, args.batch_size, seed=None,
                           hidden=hidden)

    verify: Any = str(args.ca_file) if args.ca_file else True
    refused = 0
    done: set[int] = set()
    with AggregatorClient(args.aggregator_url, signing_key=sk, timeout=args.timeout,
                          aggregator_fingerprint=args.aggregator_fingerprint,
                          key_authority_fingerprint=args.key_authority_fingerprint,
                          min_k_min=args.min_k_min, verify=verify) as client:
        client.params()  # wrong URL / key authority's URL / pin mismatch: fail now
        agent = ClientAgent(client, train, progress=not args.no_progress)
        waiter = _Waiter(client, args)
        while len(done) < args.rounds:
            cfg = waiter.next_round(done)
            shape = _model_shape(cfg)
            ds = load_dataset(args.data, shape[2] if shape else None)
            hidden = _check_data(ds, args.data, cfg)
            report = agent.run_round(cfg)
            done.add(report.round_id)
            res = report.result
            if res is None or not res.accepted:
                refused += 1
            print(json.dumps({"round_id": report.round_id, "client_id": report.client_id,
                              "status": res.status if res else None,
                              "verdict": res.verdict if res else "skipped",
                              "reason": res.reason if res else report.skipped,
                              "detail": res.detail if res else None,
                              "update_norm": round(report.update_norm, 4),
                              "timings_ms": report.timings}), flush=True)
    return EXIT_REFUSED if refused else 0
