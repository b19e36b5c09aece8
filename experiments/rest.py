"""Part B2: the same federation over REST, with the real services on loopback.

Uses only the services' public CLI: ``zkflpq demo --json`` starts the key authority and
the aggregator as separate ``uvicorn`` processes (SQLite store, verification worker
processes), enrols the clients and runs the rounds with client agents that talk HTTP
(``httpx``), concurrently (threads). We run it

1. on the paper's setting (5 clients, 10 rounds, τ = 5, scale 2^14, ML-KEM-768, client
   index 3 — ``--malicious-client 4``, 1-based — sending N(0, 50²) noise from round
   index 3 — ``--malicious-from 4``), all clients concurrent;
2. with 5 and 10 clients (2 rounds each, no attacker; the second, warm round is
   reported) for round time vs number of clients over REST.

The overhead factor over REST is the mean warm ZKFL-PQ round (rounds 2–10: round 1
also pays the worker processes' start-up and kernel loading) divided by the mean
standard-FL round measured in-process in this same script on the same data setting.
If the services or the demo are missing or fail, the result says so and nothing else is
reported.

    python -m experiments.rest                  # → paper_results/rest/
    python -m experiments.rest --quick --out /tmp/rest

``--quick`` (INSECURE N = 256 ring, tiny model, 3 rounds) is a smoke test: ``"smoke_test":
true`` in ``results.json`` and the summary says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import (
    DEFAULT_OUT,
    REPO_ROOT,
    SMOKE_LABEL,
    add_common_args,
    machine_info,
    mean,
    smoke_banner,
    write_json,
)
from .federation import RunSpec, run_config

__all__ = ["available", "demo", "run", "main"]


def available() -> tuple[bool, str]:
    try:
        import services  # noqa: F401
        import zkflpq.agent  # noqa: F401
        import zkflpq.demo  # noqa: F401
        from services.common.launch import LocalDeployment  # noqa: F401
    except Exception as exc:  # the services are another engineer's work in progress
        return False, f"services not importable: {type(exc).__name__}: {exc}"
    return True, "ok"


def demo(args: list[str], timeout: int) -> tuple[dict[str, Any] | None, str, float]:
    """Run ``zkflpq demo --json ARGS``; returns (parsed JSON or None, stderr tail, wall s)."""
    cmd = [sys.executable, "-m", "zkflpq.cli", "demo", "--json", *args]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s", time.perf_counter() - t
    wall = time.perf_counter() - t
    lines = [ln for ln in p.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        return None, f"exit {p.returncode}: {p.stderr.strip()[-800:]}", wall
    return json.loads(lines[-1]), p.stderr.strip()[-300:], wall


def _common_args(quick: bool) -> list[str]:
    a = ["--kem", "mlkem768", "--scale", "16384", "--tau", "5"]
    if quick:
        a += ["--params", "INSECURE-bfv3-n256-q81-t34-l4", "--hidden", "4", "--samples", "400"]
    return a


def run(quick: bool, out: Path, *, log=print) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ok, reason = available()
    base = {"smoke_test": quick, "machine": machine_info(),
            "command": "python -m experiments.rest" + (" --quick" if quick else "")}
    if quick:
        log(f"[rest] {SMOKE_LABEL}")
    if not ok:
        res = {"status": "not available", "reason": reason, **base}
        write_json(out / "results.json", res)
        log(f"[rest] not available: {reason}")
        return res
    n_rounds = 3 if quick else 10
    paper_args = ["--rounds", str(n_rounds), "--clients", "5", "--malicious-client", "4",
                  "--malicious-from", "2" if quick else "4", "--parallel-clients", "5",
                  *_common_args(quick)]
    log(f"[rest] paper setting over REST: zkflpq demo {' '.join(paper_args)}")
    main_run, err, wall = demo(paper_args, timeout=900)
    if main_run is None:
        res = {"status": "failed", "reason": err, "demo_args": paper_args, **base}
        write_json(out / "results.json", res)
        log(f"[rest] demo failed: {err}")
        return res
    rounds = main_run["rounds"]
    walls = [r["timings_s"]["round_wall"] for r in rounds]
    warm = walls[1:] if len(walls) > 1 else walls
    # standard FL in-process baseline (same data setting, same machine, this run)
    fed: dict[str, Any] = {"clip_honest": False}
    if quick:
        fed.update({"hidden": [4], "n_rounds": n_rounds, "attack_start_round": 1})
    std = run_config(RunSpec(label="standard", config="standard", attack="gaussian",
                             attack_kwargs={"std": 50.0}, fed=fed, keep_rounds=False))
    std_round = std["summary_ext"]["mean_round_time_s"]

    sweep = []
    for n in ([2, 3] if quick else [5, 10]):
        args = ["--rounds", "2", "--clients", str(n), "--malicious-client", "0",
                "--parallel-clients", str(min(n, 10)), *_common_args(quick)]
        r, err, w = demo(args, timeout=900)
        if r is None:
            sweep.append({"n_clients": n, "status": "failed", "reason": err})
            continue
        sweep.append({
            "n_clients": n, "status": "ok",
            "warm_round_wall_s": r["rounds"][-1]["timings_s"]["round_wall"],
            "first_round_wall_s": r["rounds"][0]["timings_s"]["round_wall"],
            "round_timings_s": r["rounds"][-1]["timings_s"],
            "honest_rejected": r["honest_rejected"], "startup_s": r["startup_s"],
        })
        log(f"[rest] {n} clients: warm round {sweep[-1]['warm_round_wall_s']:.2f} s")
    accepted = [r["accepted"] for r in rounds]
    res = {
        "status": "measured",
        "mode": "quick" if quick else "full",
        "demo_args": paper_args,
        "paper_setting": {
            "rounds": rounds,
            "params": main_run["params"], "d": main_run["d"],
            "ciphertext_bytes": main_run["ciphertext_bytes"],
            "proof_bytes": main_run["proof_bytes"],
            "poisoned_rejected_all": main_run["poisoned_rejected"],
            "poisoned_reasons": main_run["poisoned_reasons"],
            "honest_rejected": main_run["honest_rejected"],
            "final_accuracy": rounds[-1]["accuracy"],
            "accepted_per_round": accepted,
            "startup_s": main_run["startup_s"],
            "total_s": main_run["total_s"],
            "mean_round_wall_s": mean(walls),
            "mean_warm_round_wall_s": mean(warm),
        },
        "standard_fl_in_process_round_s": std_round,
        "overhead_factor_rest_warm": mean(warm) / std_round,
        "overhead_factor_rest_all_rounds": mean(walls) / std_round,
        "clients_sweep": sweep,
        "note": "client agents run concurrently (threads) against the aggregator over HTTP "
                "on loopback; the aggregator verifies in worker processes; the machine has "
                "2 cores, so concurrency can at most about halve the CPU-bound time.",
        **base,
        "elapsed_s": time.perf_counter() - t0,
    }
    res["summary_md"] = summary_markdown(res)
    write_json(out / "results.json", res)
    log(f"[rest] wrote {out}/results.json ({res['elapsed_s']:.1f} s)")
    return res


def summary_markdown(r: dict[str, Any]) -> str:
    p = r["paper_setting"]
    smoke = bool(r.get("smoke_test"))
    lines = [
        *([smoke_banner(smoke).rstrip("\n"), ""] if smoke else []),
        f"`zkflpq demo --json {' '.join(r['demo_args'])}` — key authority and aggregator as "
        f"separate uvicorn processes, {len(p['rounds'])} rounds, parameter set `{p['params']}`, "
        f"d = {p['d']:,}. {r['note']}",
        "",
        "| Round | Accuracy | Accepted | Rejected (reason) | Mean client train / encrypt / "
        "prove (s) | Submit + verify (s) | Close + decrypt (s) | Round wall (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rd in p["rounds"]:
        t = rd["timings_s"]
        rej = ", ".join(f"{k}: {v}" for k, v in rd["rejected"].items()) or "–"
        lines.append(f"| {rd['round']} | {100 * rd['accuracy']:.1f} % | {rd['accepted']} | {rej} "
                     f"| {t['train']:.2f} / {t['encrypt']:.2f} / {t['prove']:.2f} | "
                     f"{t['submit_verify']:.2f} | {t['close_decrypt']:.2f} | "
                     f"{t['round_wall']:.2f} |")
    lines += [
        "",
        f"Poisoned updates all rejected: **{p['poisoned_rejected_all']}** "
        f"({p['poisoned_reasons']}); honest updates rejected: **{p['honest_rejected']}**; "
        f"final accuracy {100 * p['final_accuracy']:.1f} %. "
        f"Mean round {p['mean_round_wall_s']:.2f} s "
        f"(warm rounds 2+: {p['mean_warm_round_wall_s']:.2f} s) vs standard FL in-process "
        f"{r['standard_fl_in_process_round_s']:.3f} s: **{r['overhead_factor_rest_warm']:.0f}×** "
        f"(all rounds: {r['overhead_factor_rest_all_rounds']:.0f}×). Service start-up "
        f"{p['startup_s']:.0f} s (not counted).",
        "",
        "| Clients (REST, concurrent) | Warm round wall (s) | First round (s) | Honest rejected |",
        "|---|---|---|---|",
    ]
    for s in r["clients_sweep"]:
        if s["status"] != "ok":
            lines.append(f"| {s['n_clients']} | failed: {s['reason'][:80]} | | |")
        else:
            lines.append(f"| {s['n_clients']} | {s['warm_round_wall_s']:.2f} | "
                         f"{s['first_round_wall_s']:.2f} | {s['honest_rejected']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "rest")
    a = ap.parse_args(argv)
    r = run(a.quick, a.out)
    if r.get("smoke_test") and not r.get("summary_md"):
        print(SMOKE_LABEL)
    print(r.get("summary_md") or json.dumps({k: r[k] for k in ("status", "reason")}))
    return 0 if r["status"] in ("measured", "not available") else 1


if __name__ == "__main__":
    sys.exit(main())
