"""``--quick`` runs are smoke tests (insecure N = 256 ring, small model): everything they
write says so, and none of their targets is reported as met. Full-mode output is
unchanged: the committed ``paper_results/`` tables and README regenerate byte for byte.

The quick runs are the session fixtures of ``conftest.py`` (one subprocess per script,
through its CLI); their printed output is saved next to each output directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from experiments.common import DEFAULT_OUT, NOT_EVALUATED, SMOKE_LABEL, smoke_targets

# fixture name -> (output sub-directory, writes table.md, figures it must write)
SCRIPTS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "reproduction": ("reproduction", True,
                     ("accuracy_per_round.png", "ablation_malicious.png", "ablation_tau.png")),
    "overhead": ("overhead", True, ("timing_breakdown.png",)),
    "attacks": ("attacks", True, ("attack_matrix.png",)),
    "scaling": ("scaling", False,
                ("prove_verify_vs_d.png", "sizes_vs_d.png", "round_time_vs_clients.png")),
    "real_data": ("real_data", True, ("accuracy_breast_cancer.png", "accuracy_digits.png")),
    "anchors": ("anchors", True, ()),
}


def png_title(path: Path) -> str:
    """The titles a figure shows, as recorded in its PNG ``Title`` text chunk."""
    with Image.open(path) as im:
        im.load()
        return str(im.info.get("Title", ""))


def targets_reported_met(obj: Any) -> list[str]:
    """Paths of every ``targets`` entry anywhere in a result that is ``True``."""
    found: list[str] = []

    def walk(o: Any, path: str) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "targets" and isinstance(v, dict):
                    found.extend(f"{path}.targets.{t}" for t, met in v.items() if met is True)
                walk(v, f"{path}.{k}")
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, f"{path}[{i}]")

    walk(obj, "$")
    return found


# -- the reproduction: no target evaluated --------------------------------------------------
def test_reproduction_quick_is_a_smoke_test(reproduction, quick_out):
    r = reproduction
    assert r["mode"] == "quick"
    assert r["smoke_test"] is True
    assert r["targets"], "the targets are still listed (with null values)"
    assert all(v is None for v in r["targets"].values()), r["targets"]
    assert targets_reported_met(r) == []
    assert r["targets_status"] == NOT_EVALUATED
    # what a run with these numbers would have claimed, had it been evaluated: the test
    # is only meaningful if some target *would* have been met
    assert r["encrypted_fraction"] == 1.0 and r["malicious_rejected_rate"] == 1.0

    out = quick_out / "reproduction"
    table = (out / "table.md").read_text()
    assert table.startswith(f"> **{SMOKE_LABEL}.**"), table[:200]
    overhead_row = next(ln for ln in table.splitlines() if ln.startswith("| Overhead factor"))
    assert "smoke test, not comparable with the paper" in overhead_row
    printed = (quick_out / "reproduction.stdout.txt").read_text()
    assert SMOKE_LABEL in printed and NOT_EVALUATED in printed
    assert printed.count(SMOKE_LABEL) >= 3  # log at start and end, table, summary line


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_every_quick_output_is_labelled(name, request, quick_out):
    r = request.getfixturevalue(name)
    sub, has_table, figures = SCRIPTS[name]
    out = quick_out / sub
    assert r["smoke_test"] is True, name
    assert targets_reported_met(r) == [], name
    if has_table:
        table = (out / "table.md").read_text()
        assert table.startswith(f"> **{SMOKE_LABEL}.**"), (name, table[:200])
    pngs = sorted(out.glob("*.png"))
    assert {p.name for p in pngs} >= set(figures), (name, pngs)
    for p in pngs:
        title = png_title(p)
        assert title.startswith(SMOKE_LABEL), (p.name, title)
    printed = (quick_out / f"{sub}.stdout.txt").read_text()
    assert SMOKE_LABEL in printed, (name, printed[-500:])


def test_report_from_quick_results_is_labelled(quick_out, reproduction, attacks, overhead,
                                               scaling, real_data, anchors):
    from experiments.report import build

    text = build(quick_out)
    assert "**met**" not in text and "**not met**" not in text
    assert NOT_EVALUATED in text
    head = text.split("\n## ", 1)[0]
    assert SMOKE_LABEL in head and "**Headline:** none" in head
    sections = {s.split("\n", 1)[0]: s for s in text.split("\n## ")[1:]}
    for prefix in ("A.", "B1.", "B3.", "B4.", "B5.", "B6."):
        title, body = next((t, b) for t, b in sections.items() if t.startswith(prefix))
        assert SMOKE_LABEL in body, title
        assert body.count(SMOKE_LABEL) == 1, f"{title}: one banner per section"


# -- pieces, and full mode unchanged --------------------------------------------------------
def test_smoke_targets():
    t = {"a": True, "b": False, "c": None}
    assert smoke_targets(t, smoke=False) == t
    assert smoke_targets(t, smoke=True) == {"a": None, "b": None, "c": None}


def test_plot_titles_labelled_only_in_smoke_mode(tmp_path):
    from experiments import plots

    series = {"x": [0.5, 0.75, 1.0]}
    full = plots.accuracy_per_round(series, tmp_path / "full.png", title="T")
    smoke = plots.accuracy_per_round(series, tmp_path / "smoke.png", title="T", smoke=True)
    assert png_title(full) == "T"
    assert png_title(smoke) == f"{SMOKE_LABEL}\nT"
    bars = plots.bar_breakdown({"a": {"p": 1.0}}, tmp_path / "bars.png", title="B", smoke=True)
    heat = plots.heatmap([[0.5]], ["r"], ["c"], tmp_path / "heat.png", title="H", smoke=True)
    line = plots.line_xy({"s": ([1, 2], [1, 2])}, tmp_path / "line.png", title="L", xlabel="x",
                         ylabel="y", smoke=True)
    for p in (bars, heat, line):
        assert png_title(p).startswith(SMOKE_LABEL), p


@pytest.mark.parametrize("module,sub", [
    ("reproduce_paper", "reproduction"), ("overhead", "overhead"),
    ("attack_matrix", "attacks"), ("real_data", "real_data"), ("anchors", "anchors"),
])
def test_full_mode_tables_unchanged(module, sub):
    """The committed full-mode results regenerate their committed table byte for byte,
    without any smoke label (regenerate with the script's ``table_markdown`` otherwise)."""
    import importlib

    p = DEFAULT_OUT / sub / "results.json"
    if not p.exists():
        pytest.skip(f"{p} not generated")
    r = json.loads(p.read_text())
    assert r["mode"] == "full" and not r.get("smoke_test")
    md = importlib.import_module(f"experiments.{module}").table_markdown(r)
    assert SMOKE_LABEL not in md
    assert md == (DEFAULT_OUT / sub / "table.md").read_text()


def test_full_mode_report_unchanged():
    from experiments.report import build

    if not (DEFAULT_OUT / "reproduction" / "results.json").exists():
        pytest.skip("paper_results/ not generated")
    text = build(DEFAULT_OUT)
    assert SMOKE_LABEL not in text and NOT_EVALUATED not in text
    assert "**met**" in text  # full-mode targets are evaluated
    assert text == (DEFAULT_OUT / "README.md").read_text(), (
        "paper_results/README.md is stale: python -m experiments.report")
