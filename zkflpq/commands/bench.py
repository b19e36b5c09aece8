"""`zkflpq bench TARGET [options]`: run one benchmark module, imported only when used.

To add a target, add an entry to BENCH_TARGETS pointing at a module that exposes
`add_arguments(parser)` and `run(args) -> int`. Targets whose module is not installed
(importlib.util.find_spec finds nothing) are not offered.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

__all__ = ["BENCH_TARGETS", "available_targets", "register"]

# name → module path (module exposes add_arguments(parser) and run(args) -> int)
BENCH_TARGETS: dict[str, str] = {
    "bfv": "zkflpq.benchmarks.bfv",
    "proof": "zkflpq.benchmarks.proof",
    "service": "zkflpq.benchmarks.service",
}

# One-line descriptions for `zkflpq bench --help` (optional; shown without importing).
BENCH_HELP: dict[str, str] = {
    "bfv": "ring/BFV micro-benchmarks on the default set (one core)",
    "proof": "norm-proof generation and verification",
    "service": "end-to-end aggregation service throughput",
}


def _module_exists(path: str) -> bool:
    try:
        return importlib.util.find_spec(path) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def available_targets() -> dict[str, str]:
    return {name: path for name, path in BENCH_TARGETS.items() if _module_exists(path)}


def register(subparsers: argparse._SubParsersAction) -> None:
    targets = available_targets()
    listing = "\n".join(f"  {name:10s} {BENCH_HELP.get(name, '')}" for name in targets)
    p = subparsers.add_parser(
        "bench", help="run a benchmark (zkflpq bench TARGET --help for its options)",
        description=f"Run one benchmark target.\n\ntargets:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", choices=sorted(targets), metavar="TARGET",
                   help="one of: " + ", ".join(sorted(targets)))
    p.add_argument("target_args", nargs=argparse.REMAINDER,
                   help="options for the target (see zkflpq bench TARGET --help)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    module = importlib.import_module(BENCH_TARGETS[args.target])
    parser = argparse.ArgumentParser(prog=f"zkflpq bench {args.target}",
                                     description=(module.__doc__ or "").strip().splitlines()[0]
                                     if module.__doc__ else None)
    module.add_arguments(parser)
    target_args = parser.parse_args(args.target_args)
    return int(module.run(target_args) or 0)
