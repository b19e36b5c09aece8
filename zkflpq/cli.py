"""`zkflpq` command line: `python -m zkflpq.cli …` or the `zkflpq` console script.

Subcommands are discovered from the modules of `zkflpq.commands`: every public module
there (name not starting with "_") exposes `register(subparsers)`, which adds one
subparser and sets `func=<handler(args) -> int>` on it. Adding a command therefore means
adding a module, without editing this file. `register` must stay cheap: import heavy
dependencies (torch, the BFV layer, servers) inside the handler, so `zkflpq --help` and
unrelated commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from . import __version__

__all__ = ["build_parser", "command_modules", "main"]


def command_modules() -> list[str]:
    """Module names under zkflpq.commands that define a command, sorted."""
    from . import commands

    return sorted(f"{commands.__name__}.{m.name}" for m in pkgutil.iter_modules(commands.__path__)
                  if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zkflpq",
        description="Post-quantum, zero-knowledge verifiable federated-learning aggregation.",
    )
    parser.add_argument("--version", action="version", version=f"zkflpq {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        module = importlib.import_module(name)
        register = getattr(module, "register", None)
        if register is None:
            raise RuntimeError(f"command module {name} has no register(subparsers)")
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from .commands._errors import EXIT_INTERRUPTED, describe

    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print(f"zkflpq {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = describe(exc)
        if known is None:
            raise
        print(f"zkflpq {args.command}: {known[0]}", file=sys.stderr)
        return known[1]


if __name__ == "__main__":
    sys.exit(main())
