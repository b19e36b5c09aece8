"""`zkflpq key-authority init|serve`: the key authority (holds the BFV secret key)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("key-authority", help="key authority: init keys, serve",
                              description="The key authority holds the BFV secret key and "
                                          "decrypts only sums of >= K_min signed ciphertexts, "
                                          "once per round.")
    sub = p.add_subparsers(dest="ka_command", metavar="ACTION", required=True)
    i = sub.add_parser("init", help="create BFV, KEM and signing keys and an admin token")
    i.add_argument("--data-dir", type=Path, required=True)
    i.add_argument("--params", default="default",
                   help="BFV parameter set name, or 'default' (see zkflpq params)")
    i.add_argument("--kem", choices=["xwing", "mlkem768"], default="xwing")
    i.set_defaults(func=_init)
    s = sub.add_parser("serve", help="serve the key authority (uvicorn)")
    s.add_argument("--data-dir", type=Path, required=True)
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--database-url", default=None, help="default: SQLite in the data dir")
    s.add_argument("--min-clients", type=int, default=None, help="floor on K_min")
    s.add_argument("--kem", choices=["xwing", "mlkem768"], default=None)
    s.add_argument("--tls-cert", type=Path, default=None, dest="tls_certfile",
                   help="serve HTTPS with this PEM certificate (chain)")
    s.add_argument("--tls-key", type=Path, default=None, dest="tls_keyfile",
                   help="the certificate's PEM private key")
    s.add_argument("--log-level", default=None)
    s.set_defaults(func=_serve)


def _init(args: argparse.Namespace) -> int:
    from services.key_authority.service import init_key_authority
    from zkflpq.bfv import DEFAULT, PRESETS

    from ._errors import CliError

    name = DEFAULT.name if args.params == "default" else args.params
    if name not in PRESETS:
        raise CliError(f"--params {args.params!r}: unknown parameter set; choose one of "
                       f"{', '.join(sorted(PRESETS))} (see zkflpq params)")
    if (args.data_dir / "bfv.sk").exists():
        raise CliError(f"{args.data_dir} is already an initialised key authority "
                       f"({args.data_dir / 'bfv.sk'} exists); refusing to overwrite its BFV "
                       "secret key")
    info = init_key_authority(args.data_dir, name, args.kem)
    print(json.dumps(info, indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from services.common.runner import serve_key_authority
    from services.common.settings import KeyAuthoritySettings

    overrides = {k: v for k, v in {
        "data_dir": args.data_dir, "host": args.host, "port": args.port,
        "database_url": args.database_url, "min_clients": args.min_clients, "kem": args.kem,
        "log_level": args.log_level, "tls_certfile": args.tls_certfile,
        "tls_keyfile": args.tls_keyfile}.items() if v is not None}
    serve_key_authority(KeyAuthoritySettings(**overrides))
    return 0
