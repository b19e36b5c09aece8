"""experiments.workload: the ``--quick`` run (through its CLI) writes its JSON, table and
figure labelled as a smoke test; the factors follow from the recorded times; the
crossing interpolation on synthetic numbers; the README section."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from experiments.common import SMOKE_LABEL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[dict, Path, str]:
    out = tmp_path_factory.mktemp("workload_quick") / "workload"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.workload", "--quick", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), out, proc.stdout


def test_quick_outputs(quick):
    r, out, printed = quick
    assert {"mode", "smoke_test", "bfv_params", "settings", "points", "crossings", "machine",
            "command", "elapsed_s"} <= set(r)
    assert r["smoke_test"] is True and r["mode"] == "quick" and r["bfv_params"] == "INSECURE_N256"
    assert r["command"] == "python -m experiments.workload --quick"
    assert set(r["settings"]["training_threads"]) == {"mlp", "cnn"}
    for p in r["points"]:
        t = p["training_thread_probe"]
        times = t["standard_round_s_by_threads"]
        assert t["chosen"] in (1, 2) and times[str(t["chosen"])] == min(times.values())
        assert p["training_threads"] == t["chosen"]
        assert p["configs"]["standard"]["mean_round_time_s"] == times[str(t["chosen"])]
    assert {p["model"] for p in r["points"]} == {"mlp", "cnn"}
    for p in r["points"]:
        assert set(p["configs"]) == {"standard", "full", "paper"}
        assert p["n_params"] == (46_340 if p["model"] == "cnn" else 3_160)
        for c in p["configs"].values():
            assert len(c["round_times_s"]) == r["settings"]["rounds"]
            assert c["honest_rejected"] == 0
        # every submission of the protected runs was proven and verified
        n_subs = 5 * r["settings"]["rounds"]
        assert p["configs"]["full"]["submissions_verified"] == n_subs
        assert p["configs"]["paper"]["submissions_verified"] == n_subs
        assert p["configs"]["full"]["crypto_phases_s"] > 0
    assert set(r["crossings"]) == {"mlp/full", "mlp/paper", "cnn/full", "cnn/paper"}
    for e in r["crossings"].values():
        for kind in ("wall", "cpu", "phases"):
            assert set(e[kind]) == {"2x", "1.2x"}
            for c in e[kind].values():
                assert c["status"] in ("measured", "not_reached", "below_measured_range")
                assert (c["train_s"] is not None) == (c["status"] == "measured")
    # labelled as a smoke test everywhere
    assert (out / "table.md").read_text().startswith(f"> **{SMOKE_LABEL}.**")
    png = out / "overhead_vs_training.png"
    with Image.open(png) as im:
        im.load()
        assert im.size[0] > 400 and str(im.info.get("Title", "")).startswith(SMOKE_LABEL)
    assert printed.count(SMOKE_LABEL) >= 2


def test_factors_follow_from_recorded_times(quick):
    r, _, _ = quick
    for p in r["points"]:
        std = p["configs"]["standard"]
        assert p["train_s_per_round"] == std["train_s"] == std["mean_phase_s"]["train"]
        for c in p["configs"].values():
            assert math.isclose(c["mean_round_time_s"],
                                sum(c["round_times_s"]) / len(c["round_times_s"]), rel_tol=1e-9)
            assert math.isclose(c["factor_wall"],
                                c["mean_round_time_s"] / std["mean_round_time_s"], rel_tol=1e-9)
            assert math.isclose(c["factor_cpu"],
                                c["mean_round_cpu_s"] / std["mean_round_cpu_s"], rel_tol=1e-9)
            assert math.isclose(c["extra_round_s"],
                                c["mean_round_time_s"] - std["mean_round_time_s"],
                                rel_tol=1e-9, abs_tol=1e-12)
            protection = c["crypto_phases_s"] + c["aggregate_s"] - std["aggregate_s"]
            assert math.isclose(c["factor_phases"],
                                1.0 + protection / std["mean_round_time_s"], rel_tol=1e-9)
        assert std["factor_wall"] == 1.0
        spread = max(abs(c["train_s"] - std["train_s"]) for c in p["configs"].values())
        assert math.isclose(p["train_spread_between_runs"], spread / std["train_s"],
                            rel_tol=1e-9)


def test_log_log_crossing_exact_on_a_power_law():
    from experiments.workload import log_log_crossing

    # y = 10·x^(-1/2) is a straight line in log-log: it reaches 2 at x = 25, 1.2 at 69.44…
    assert log_log_crossing(1.0, 10.0, 100.0, 1.0, 2.0) == pytest.approx(25.0, rel=1e-12)
    assert log_log_crossing(1.0, 10.0, 100.0, 1.0, 1.2) == pytest.approx(
        (10 / 1.2) ** 2, rel=1e-12)
    # the order of the two points does not matter
    assert log_log_crossing(100.0, 1.0, 1.0, 10.0, 2.0) == pytest.approx(25.0, rel=1e-12)
    with pytest.raises(ValueError):
        log_log_crossing(1.0, 10.0, 100.0, 5.0, 2.0)  # 2 is not between 10 and 5
    with pytest.raises(ValueError):
        log_log_crossing(0.0, 10.0, 100.0, 1.0, 2.0)


def test_crossing_statuses_and_noise():
    from experiments.workload import crossing

    # factor = 1 + C/x with C = 1 s: measured points at 0.1, 1, 10 s (unsorted input)
    xs, fs = [10.0, 0.1, 1.0], [1.1, 11.0, 2.0]
    c = crossing(xs, fs, 1.5, crypto_s=1.0)
    frac = (math.log(1.5) - math.log(2.0)) / (math.log(1.1) - math.log(2.0))
    assert c["status"] == "measured" and c["between_train_s"] == [1.0, 10.0]
    assert c["train_s"] == pytest.approx(10.0 ** frac, rel=1e-12)
    assert c["model_train_s"] == pytest.approx(2.0)  # C / (1.5 − 1)
    # not reached: every point above the threshold → null, extrapolation from crypto
    c = crossing(xs, fs, 1.05, crypto_s=1.0)
    assert c["status"] == "not_reached" and c["train_s"] is None
    assert c["model_train_s"] == pytest.approx(20.0)
    # already below everywhere
    c = crossing(xs, fs, 20.0, crypto_s=1.0)
    assert c["status"] == "below_measured_range" and c["train_s"] is None
    # a noisy dip below the threshold at small x is not the crossing: the last point at
    # or above it (x = 1) and the next one (x = 10) are
    c = crossing([0.1, 0.3, 1.0, 10.0], [3.0, 1.9, 2.5, 1.1], 2.0)
    assert c["between_train_s"] == [1.0, 10.0]
    assert 1.0 < c["train_s"] < 10.0 and c["model_train_s"] is None


def test_report_section(quick, tmp_path):
    from experiments.report import build, section_workload

    r, out, _ = quick
    text = section_workload(r)
    assert text.startswith("## B7. Overhead against the workload")
    assert text.count(SMOKE_LABEL) == 1
    for needle in ("workload/overhead_vs_training.png", "python -m experiments.workload",
                   "factor < 2× from", "| MLP (3,160) |", "| CNN (46,340) |"):
        assert needle in text, needle
    assert "_Not generated yet: run `python -m experiments.workload`._" in section_workload(None)
    failed = section_workload(None, {"status": "failed", "error": "RuntimeError: boom"})
    assert "failed" in failed and "RuntimeError: boom" in failed
    # the README built from a directory holding only this step has the section, labelled
    readme = build(out.parent)
    assert "## B7. Overhead against the workload" in readme
    assert "workload" in readme.split("\n## ", 1)[0]  # listed among the smoke-test results
    assert "python -m experiments.workload" in readme


def test_run_all_runs_the_step_after_overhead():
    from experiments.run_all import STEPS

    assert STEPS.index("workload") == STEPS.index("overhead") + 1


def test_committed_full_results_regenerate_their_table():
    """paper_results/workload/: a full-mode run whose table follows from its JSON."""
    from experiments.common import DEFAULT_OUT
    from experiments.workload import table_markdown

    p = DEFAULT_OUT / "workload" / "results.json"
    if not p.exists():
        pytest.skip(f"{p} not generated")
    r = json.loads(p.read_text())
    assert r["mode"] == "full" and r["smoke_test"] is False and r["bfv_params"] == "DEFAULT"
    assert table_markdown(r) == (p.parent / "table.md").read_text()
    assert SMOKE_LABEL not in table_markdown(r)
