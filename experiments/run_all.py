"""Regenerate everything in ``paper_results/`` (full mode), then the README.

Order: the timing-sensitive, single-process measurements first (reproduction,
overhead, workload, scaling, anchors), then the many-run experiments that use worker processes
(attack matrix, real data), then the REST variant (only if the services work), then
``paper_results/README.md``. A failing step is recorded and the others still run.

    python -m experiments.run_all [--out paper_results] [--skip NAME ...] [--quick]

``--quick`` runs every step as a smoke test (see :data:`~experiments.common.SMOKE_LABEL`);
pass ``--out DIR`` with it, or it overwrites ``paper_results/``.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from .common import DEFAULT_OUT, SMOKE_LABEL, write_json

STEPS = ("reproduction", "overhead", "workload", "scaling", "anchors", "attacks", "real_data",
         "rest")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip", nargs="*", default=[], choices=STEPS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full-proofs", action="store_true",
                    help="prove every submission in the ablations and the attack matrix too "
                         "(several hours on 2 cores)")
    ap.add_argument("--max-clients", type=int, default=20)
    a = ap.parse_args(argv)
    out: Path = a.out
    out.mkdir(parents=True, exist_ok=True)
    status: dict[str, dict] = {}
    t_all = time.perf_counter()
    for step in STEPS:
        if step in a.skip:
            status[step] = {"status": "skipped"}
            continue
        t = time.perf_counter()
        print(f"=== {step} ===", flush=True)
        try:
            if step == "reproduction":
                from . import reproduce_paper
                reproduce_paper.run(a.quick, out / "reproduction", workers=a.workers,
                                    full_proofs=a.full_proofs)
            elif step == "overhead":
                from . import overhead
                overhead.run(a.quick, out / "overhead")
            elif step == "workload":
                from . import workload
                workload.run(a.quick, out / "workload")
            elif step == "scaling":
                from . import scaling
                scaling.run(a.quick, out / "scaling", max_clients=a.max_clients)
            elif step == "anchors":
                from . import anchors
                anchors.run(a.quick, out / "anchors")
            elif step == "attacks":
                from . import attack_matrix
                attack_matrix.run(a.quick, out / "attacks", workers=a.workers,
                                  full_proofs=a.full_proofs)
            elif step == "real_data":
                from . import real_data
                real_data.run(a.quick, out / "real_data", workers=a.workers)
            elif step == "rest":
                from . import rest
                rest.run(a.quick, out / "rest")
            status[step] = {"status": "ok", "elapsed_s": time.perf_counter() - t}
        except Exception as exc:  # record and continue with the other steps
            traceback.print_exc()
            status[step] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                            "elapsed_s": time.perf_counter() - t}
    args = sys.argv[1:] if argv is None else argv
    status["total_elapsed_s"] = {"elapsed_s": time.perf_counter() - t_all,
                                 "command": " ".join(["python -m experiments.run_all", *args]),
                                 "smoke_test": a.quick}
    write_json(out / "run_all_status.json", status)
    from . import report

    (out / "README.md").write_text(report.build(out))
    print(f"wrote {out / 'README.md'}; steps: "
          + ", ".join(f"{k}={v.get('status', '')}" for k, v in status.items())
          + (f" — {SMOKE_LABEL}" if a.quick else ""))
    return 0 if all(v.get("status") in ("ok", "skipped", None) for v in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
