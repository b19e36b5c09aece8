"""The `zkflpq` command line: discovery, `params`, `bench bfv`."""

from __future__ import annotations

import json
import os

import pytest

from zkflpq.cli import build_parser, command_modules, main
from zkflpq.commands import bench


def test_commands_are_discovered():
    mods = command_modules()
    assert "zkflpq.commands.params" in mods and "zkflpq.commands.bench" in mods
    assert build_parser().prog == "zkflpq"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_params_shows_default_at_128_bits(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "zkflpq-bfv3-n4096-q81-t34-l8" in out and "INSECURE" in out
    assert main(["params", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    default = next(r for r in rows if r["name"] == "zkflpq-bfv3-n4096-q81-t34-l8")
    assert default["security_bits"] >= 128 and default["he_standard_ok"] is True
    assert default["insecure"] is False and default["n"] == 4096
    assert default["bound_B"] == 327680 and default["k_max"] == (2**33 - 1) // 327680
    assert default["decrypts_k_max"] and default["decryption_margin_bits"] > 0
    for row in rows:
        if row["insecure"]:
            assert row["name"].startswith("INSECURE") and row["security_bits"] < 128


def test_params_custom_bound(capsys):
    assert main(["params", "--json", "--tau", "1", "--scale", "1024"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(r["bound_B"] == 1024 for r in rows)


def test_bench_targets_only_list_existing_modules():
    targets = bench.available_targets()
    assert targets["bfv"] == "zkflpq.benchmarks.bfv"
    assert set(targets) <= set(bench.BENCH_TARGETS)
    bench.BENCH_TARGETS["nope"] = "zkflpq.benchmarks.does_not_exist"
    try:
        assert "nope" not in bench.available_targets()
    finally:
        del bench.BENCH_TARGETS["nope"]


def test_bench_bfv_json(capsys):
    affinity = os.sched_getaffinity(0)
    assert main(["bench", "bfv", "--json", "--repeat", "3"]) == 0
    assert os.sched_getaffinity(0) == affinity  # pinning is undone
    out = capsys.readouterr().out.strip()
    res = json.loads(out)  # exactly one JSON object
    for key in ("ntt_us", "encrypt_ms", "add_ms", "decrypt_ms", "ciphertext_bytes", "exact",
                "tenseal_encrypt_ms"):
        assert key in res
    assert res["exact"] is True
    # one chunk = one (partial) group: c1 and c0, three 27-bit residues per coefficient
    assert res["ciphertext_bytes"] == 22 + 4 + 2 * 3 * 4096 * 27 // 8
    assert res["ciphertext_bytes_per_param"] == (9 * 3 * 4096 * 27 // 8 + 26) / (8 * 4096)
    for key in ("ntt_us", "encrypt_ms", "add_ms", "decrypt_ms"):
        assert res[key] > 0
    try:
        import tenseal  # noqa: F401
    except ImportError:
        assert res["tenseal_encrypt_ms"] is None
    else:
        assert res["tenseal_encrypt_ms"] > 0


def test_bench_unknown_target():
    with pytest.raises(SystemExit):
        main(["bench", "nope"])
