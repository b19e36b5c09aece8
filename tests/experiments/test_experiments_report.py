"""README generation from the quick results, and the REST step's behaviour when the
services are unavailable (it must say so, not invent numbers)."""

from __future__ import annotations

import json


def test_readme_from_quick_results(quick_out, reproduction, attacks, overhead, scaling,
                                   real_data, anchors):
    from experiments.report import build

    text = build(quick_out)
    assert "QUICK" in text or "--quick" in text  # quick results are flagged as such
    for needle in ("Reproduction of the paper", "0.149 s", "2.912 s", "Overhead breakdown",
                   "Poisoning attacks", "Scaling", "TenSEAL", "OpenFHE", "How to regenerate",
                   "python -m experiments.reproduce_paper", "accuracy_per_round.png",
                   "attack_matrix.png", "timing_breakdown.png", "Machine"):
        assert needle in text, needle
    assert f"{reproduction['overhead_factor']:.1f}×" in text
    # the REST section says it is missing (no rest/ results in the quick directory)
    assert "REST" in text and "Not included" in text


def test_rest_not_available_is_reported(tmp_path, monkeypatch):
    from experiments import rest

    monkeypatch.setattr(rest, "available", lambda: (False, "services not importable: test"))
    res = rest.run(True, tmp_path, log=lambda *a: None)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert res["status"] == saved["status"] == "not available"
    assert "paper_setting" not in saved and "overhead_factor_rest_warm" not in saved


def test_rest_summary_markdown():
    from experiments.rest import summary_markdown

    rd = {"round": 1, "accuracy": 0.5, "accepted": 4, "rejected": {"proof_invalid": 1},
          "timings_s": {"train": 0.1, "encrypt": 0.1, "prove": 1.0, "submit_verify": 0.5,
                        "close_decrypt": 0.1, "round_wall": 3.0}}
    r = {"demo_args": ["--rounds", "1"], "note": "n", "standard_fl_in_process_round_s": 0.1,
         "overhead_factor_rest_warm": 30.0, "overhead_factor_rest_all_rounds": 30.0,
         "clients_sweep": [{"n_clients": 5, "status": "failed", "reason": "x"}],
         "paper_setting": {"rounds": [rd], "params": "p", "d": 10, "poisoned_rejected_all": True,
                           "poisoned_reasons": {"proof_invalid": 1}, "honest_rejected": 0,
                           "final_accuracy": 0.5, "mean_round_wall_s": 3.0,
                           "mean_warm_round_wall_s": 3.0, "startup_s": 10.0}}
    md = summary_markdown(r)
    assert "proof_invalid: 1" in md and "**30×**" in md and "failed" in md
