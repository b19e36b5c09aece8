"""`zkflpq flower-demo`: the Flower app through Flower's `run_simulation` — 5 SuperNodes,
one poisoner from round 3, per round accuracy, accepted, rejected with reasons
(`zkflpq.flower.demo` with the key authority service run in-process; needs the optional
`flower` extra)."""

from __future__ import annotations

import argparse
import importlib.util

from ._errors import CliError

__all__ = ["register"]

INSTALL_HINT = "Flower is not installed: pip install -e '.[fl,flower]'"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "flower-demo", help="Flower simulation: 5 SuperNodes, one poisoner (needs [flower])",
        description="Runs the zkflpq Flower app (ClientApp with zkflpq_mod, ServerApp with "
                    "ZkflpqStrategy and an in-process key authority) through Flower's "
                    "run_simulation; --mode fedavg runs the same app with plain FedAvg.")
    # zkflpq.flower.demo imports flwr only inside its functions: the options are
    # available (and `zkflpq --help` works) without Flower installed.
    from zkflpq.flower.demo import add_arguments

    add_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("flwr") is None:
        raise CliError(INSTALL_HINT)
    from services.flower import InProcessKeyAuthority
    from zkflpq.flower.demo import run_and_print

    return run_and_print(args, InProcessKeyAuthority)
