"""`zkflpq flower-demo` without Flower installed: a one-line install hint, no traceback
(needs no flwr itself)."""

from __future__ import annotations

import importlib.util

from zkflpq.cli import build_parser, main


def test_flower_demo_registered_without_importing_flwr():
    # The parser (and `zkflpq --help`) must build without Flower.
    args = build_parser().parse_args(["flower-demo", "--json", "--rounds", "2"])
    assert args.json and args.rounds == 2 and args.mode == "zkflpq"


def test_flower_demo_without_flwr_says_how_to_install(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "flwr" else real(name, *a))
    assert main(["flower-demo", "--json"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["zkflpq flower-demo: Flower is not installed: pip install -e '.[fl,flower]'"]
