"""`zkflpq aggregator init|serve`: the aggregation service."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("aggregator", help="aggregation service: init keys, serve",
                              description="Verifies every update's norm proof before storing "
                                          "its ciphertext; aggregates via the key authority.")
    sub = p.add_subparsers(dest="agg_command", metavar="ACTION", required=True)
    i = sub.add_parser("init", help="create the aggregator's KEM and signing keys")
    i.add_argument("--data-dir", type=Path, required=True)
    i.add_argument("--kem", choices=["xwing", "mlkem768"], default="xwing")
    i.set_defaults(func=_init)
    s = sub.add_parser("serve", help="serve the aggregator (uvicorn); creates keys if absent")
    s.add_argument("--data-dir", type=Path, required=True)
    s.add_argument("--key-authority-url", default=None)
    s.add_argument("--key-authority-fingerprint", default=None,
                   help="pin the key authority's signing-key fingerprint")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--database-url", default=None,
                   help="SQLAlchemy URL (PostgreSQL for scale-out); default SQLite in data dir")
    s.add_argument("--workers", type=int, default=None, dest="verify_workers",
                   help="verification workers")
    s.add_argument("--queue", type=int, default=None, dest="verify_queue",
                   help="queued submissions beyond busy workers before 429")
    s.add_argument("--executor", choices=["process", "thread", "inline"], default=None,
                   dest="verify_executor")
    s.add_argument("--max-body-bytes", type=int, default=None)
    s.add_argument("--instance-id", default=None)
    s.add_argument("--kem", choices=["xwing", "mlkem768"], default=None)
    s.add_argument("--key-authority-wait-s", type=float, default=None,
                   help="at first start, wait this long for the key authority (default 60)")
    s.add_argument("--tls-cert", type=Path, default=None, dest="tls_certfile",
                   help="serve HTTPS with this PEM certificate (chain)")
    s.add_argument("--tls-key", type=Path, default=None, dest="tls_keyfile",
                   help="the certificate's PEM private key")
    s.add_argument("--key-authority-ca-file", type=Path, default=None,
                   help="PEM CA bundle for an https key authority with a private certificate")
    s.add_argument("--log-level", default=None)
    s.set_defaults(func=_serve)


def _init(args: argparse.Namespace) -> int:
    from services.common.keys import (
        KEM_ALGS,
        admin_token,
        load_or_create_kem,
        load_or_create_signing,
    )
    from zkflpq.pq import fingerprint

    args.data_dir.mkdir(parents=True, exist_ok=True)
    kem = load_or_create_kem(args.data_dir / "aggregator.kem", KEM_ALGS[args.kem])
    sig = load_or_create_signing(args.data_dir / "aggregator.sig")
    admin_token(args.data_dir, None)  # the aggregator's own admin token (kept if present)
    print(json.dumps({
        "aggregator_id": "aggregator-" + fingerprint(sig)[:16],
        "signing_key_fingerprint": fingerprint(sig), "kem_fingerprint": fingerprint(kem),
        "signing_public_key": str(args.data_dir / "aggregator.sig.pub"),
        "admin_token_file": str(args.data_dir / "admin.token"),
        "next": "zkflpq admin --key-authority-url URL enrol --aggregator "
                f"{args.data_dir / 'aggregator.sig.pub'}"}, indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from services.aggregator.ka_client import KaError
    from services.common.runner import serve_aggregator
    from services.common.settings import AggregatorSettings

    from ._errors import CliError

    keys = ("data_dir", "key_authority_url", "key_authority_fingerprint", "host", "port",
            "database_url", "verify_workers", "verify_queue", "verify_executor",
            "max_body_bytes", "instance_id", "kem", "log_level", "key_authority_wait_s",
            "tls_certfile", "tls_keyfile", "key_authority_ca_file")
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    try:
        serve_aggregator(AggregatorSettings(**overrides))
    except KaError as exc:
        raise CliError(f"{exc.detail} — start the key authority first, or check "
                       "--key-authority-url") from None
    return 0
