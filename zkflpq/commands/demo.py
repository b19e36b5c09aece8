"""`zkflpq demo`: key authority + aggregator as real processes on loopback, 5 hospitals,
5 rounds, one poisoning client rejected by proof verification (see zkflpq.demo)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="run the services on loopback: 5 clients, 5 rounds, one poisoner",
        description="Starts the key authority and the aggregator as separate uvicorn "
                    "processes (SQLite store), enrols 5 clients and runs 5 rounds of the "
                    "paper's synthetic medical task; one client poisons from round 3 and "
                    "is rejected by the aggregator's proof verification.")
    from zkflpq.demo import add_arguments

    add_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from zkflpq.demo import run

    return run(args)
