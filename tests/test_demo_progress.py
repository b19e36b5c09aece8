"""`zkflpq demo` console output without running the (slow) demo: the final table never
cuts a cell (no '…') at width 80, on a terminal or not, and the in-round progress
(plain status lines or live bars) counts trained / proven / verified clients from
concurrent client threads. The real demo runs in tests/services/test_services_demo.py."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from rich.console import Console

from zkflpq.demo import DemoProgress, _cells, _console, _tracked, build_table, print_summary


def _rounds(n: int = 5) -> list[dict[str, Any]]:
    out = []
    for i in range(1, n + 1):
        rejected: dict[str, int] = {}
        if i >= 3:
            rejected["proof_invalid"] = 1
        if i == 5:
            rejected["bad_signature_or_something_long"] = 12
        out.append({"round": i, "accuracy": 0.25 + i / 10, "accepted": 5 - len(rejected),
                    "rejected": rejected, "state": "closed",
                    "timings_s": {"train": 1.234 * i, "encrypt": 2.5, "prove": 101.25,
                                  "submit_verify": 3.5, "clients_wall": 20.0,
                                  "close_decrypt": 1.2, "round_wall": 1234.5}})
    return out


OUT = {"ciphertext_bytes": 1_234_567, "proof_bytes": 456_789, "poisoned_rejected": True,
       "poisoned_reasons": {"proof_invalid": 3}, "honest_rejected": 0, "total_s": 160.2}


def _render(width: int, terminal: bool, rounds: list[dict[str, Any]] | None = None) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=terminal, color_system=None)
    print_summary(console, rounds if rounds is not None else _rounds(), OUT)
    return buf.getvalue()


def _assert_complete(text: str, rounds: list[dict[str, Any]]) -> None:
    assert "…" not in text and "..." not in text
    flat = " ".join(text.split())
    for r in rounds:
        for cell in _cells(r):
            assert " ".join(cell.split()) in flat, cell
    assert "total 160.2 s" in flat and "1,234,567 B" in flat


@pytest.mark.parametrize("terminal", [False, True])
def test_summary_at_width_80_cuts_nothing(terminal: bool) -> None:
    rounds = _rounds()
    text = _render(80, terminal, rounds)
    _assert_complete(text, rounds)
    lines = text.splitlines()
    if terminal:
        # A narrow terminal: plain lines that fit it, one block per round.
        assert all(len(line) <= 80 for line in lines)
        assert "┃" not in text and "│" not in text
        for r in rounds:
            assert sum(line.startswith(f"round {r['round']}: ") for line in lines) == 1
    else:
        # A pipe or file: the whole table at its natural width, one line per row.
        rows = [line for line in lines if line.startswith("│")]
        assert len(rows) == 5 and len({len(line) for line in rows}) == 1
        for r, row in zip(rounds, rows, strict=True):
            for cell in _cells(r):
                assert cell in row, cell  # each cell on its row's single line, not folded


def test_summary_wide_terminal_is_a_table() -> None:
    rounds = _rounds()
    text = _render(200, True, rounds)
    _assert_complete(text, rounds)
    assert "┃" in text and "accuracy" in text
    assert all(len(line) <= 200 for line in text.splitlines())


def test_build_table_cells_never_ellipsised() -> None:
    # Even forced into 80 columns, rich folds (never "…") the table's cells.
    rounds = _rounds(2)
    buf = io.StringIO()
    Console(file=buf, width=80, color_system=None).print(build_table(rounds))
    assert "…" not in buf.getvalue()
    assert {c.overflow for c in build_table(rounds).columns} == {"fold"}


def test_summary_of_no_rounds() -> None:
    text = _render(80, False, [])
    assert "…" not in text and "total 160.2 s" in text


def test_json_mode_console_is_stderr() -> None:
    assert _console(True).stderr is True
    assert _console(False).stderr is False


# -- progress ---------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _one_client(progress: DemoProgress, accepted: bool = True) -> None:
    _tracked(lambda: None, progress, "train")()
    _tracked(lambda: None, progress, "prove")()
    progress.event("verified", accepted=accepted)


def test_progress_plain_lines_count_stages() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=80, color_system=None)
    clock = _Clock()
    p = DemoProgress(console, 5, 3, live=False, min_interval_s=3.0, clock=clock)
    p.start_round(2)
    # Five client threads at once: the counters must not lose an update.
    threads = [threading.Thread(target=_one_client, args=(p, i != 2)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert p.counts == {"training": 0, "trained": 5, "proving": 0, "proven": 5,
                        "verifying": 0, "verified": 5, "accepted": 4, "rejected": 1}
    clock.t += 7.5
    p.closing()
    p.end_round()
    p.stop()
    text = buf.getvalue()
    assert p.lines[0].startswith("  round 2/3 [  0.0 s] clients training")
    # The clock never moved during the events: only the first status line and one per
    # finished stage got through the throttle.
    assert any("trained 5/5" in line for line in p.lines)
    assert any("encrypted+proven 5/5" in line for line in p.lines)
    assert p.lines[-2].endswith("verified 5/5 (accepted 4, rejected 1)")
    assert "[  7.5 s] closing: key authority decrypting the sum of 4 accepted" in p.lines[-1]
    assert len(p.lines) <= 6
    assert "…" not in text
    for line in p.lines:
        assert " ".join(line.split()) in " ".join(text.split())


def test_progress_plain_lines_throttled_by_time() -> None:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    clock = _Clock()
    p = DemoProgress(console, 4, 1, live=False, min_interval_s=3.0, clock=clock)
    p.start_round(1)
    p.event("training")
    p.event("trained")  # within 3 s of the round-start line: not printed
    assert len(p.lines) == 1
    clock.t += 3.0
    p.event("training")
    p.event("trained")  # 3 s later: printed
    assert len(p.lines) == 2 and "trained 2/4" in p.lines[-1]
    p.event("proving")
    p.event("proven")
    assert len(p.lines) == 2 and p.counts["verifying"] == 1
    assert "1 submitting/verifying" in p.status_text()


def test_progress_disabled_is_silent() -> None:
    buf = io.StringIO()
    p = DemoProgress(Console(file=buf, force_terminal=True), 2, 1, enabled=False)
    p.start_round(1)
    for _ in range(2):
        _one_client(p)
    p.closing()
    p.end_round()
    p.stop()
    assert buf.getvalue() == "" and p.lines == []
    assert p.counts["verified"] == 2 and p.counts["accepted"] == 2


def test_progress_live_bars() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=True, color_system=None)
    p = DemoProgress(console, 3, 2)
    assert p.live  # a terminal
    for rnd in (1, 2):
        p.start_round(rnd)
        assert p._progress is not None and len(p._tasks) == 3
        for _ in range(3):
            _one_client(p)
        tasks = {t.id: t for t in p._progress.tasks}
        assert all(tasks[p._tasks[s]].completed == 3 for s in DemoProgress.STAGES)
        p.closing()
        assert len(p._tasks) == 4
        p.end_round()
        assert p._tasks == {} and not p._progress.tasks
    p.stop()
    assert p._progress is None and p.lines == []
    assert "round 2/2" in buf.getvalue()


def test_tracked_passes_arguments_and_results() -> None:
    p = DemoProgress(Console(file=io.StringIO()), 1, 1, enabled=False)
    p.start_round(1)
    f = _tracked(lambda a, b=0: a + b, p, "prove")
    assert f(2, b=3) == 5
    assert p.counts["proven"] == 1 and p.counts["proving"] == 0
    with pytest.raises(ZeroDivisionError):
        _tracked(lambda: 1 / 0, p, "train")()
    assert p.counts["trained"] == 0
