"""`zkflpq params`: the BFV parameter sets, their security and decryption margins."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

__all__ = ["describe", "register"]

DEFAULT_TAU = 5.0
DEFAULT_SCALE = 2.0**16


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "params", help="list BFV parameter sets, security estimates and noise margins",
        description="For each parameter set: ring, modulus, plaintext modulus, error width, "
                    "HE-standard check, security estimate, and the worst-case decryption "
                    "margin when K_max clients with ‖m‖_2 ≤ B = floor(τ·scale) are summed.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--tau", type=float, default=DEFAULT_TAU,
                   help=f"L2 clipping norm τ (default {DEFAULT_TAU:g})")
    p.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                   help="fixed-point scale (default 2^16)")
    p.set_defaults(func=_run)


def describe(params: Any, bound: int) -> dict[str, Any]:
    """Everything `zkflpq params` shows for one set, given the per-client bound B.

    Worst-case noise: a fresh chunk j has v = −e_j·u + e1 + e2·s_j with ‖e‖_∞, ‖e1‖_∞,
    ‖e2‖_∞ ≤ η and u, s ternary, so ‖v‖_∞ ≤ η·(2N + 1). A sum of K has ‖v‖_∞ ≤ K·η(2N+1)
    and plaintext ‖m‖_∞ ≤ K·B < t/2; it decrypts correctly when
    ‖t·v − (q mod t)·m‖_∞ < q/2, implied by K·η(2N+1) < q/(2t) − (q mod t)/2.
    """
    q, t, n = params.q, params.t, params.n
    k_max = params.max_clients(bound)
    fresh = params.error_eta * (2 * n + 1)
    threshold = q / (2 * t) - (q % t) / 2
    total = max(k_max, 1) * fresh
    return {
        "name": params.name,
        "insecure": params.insecure,
        "n": n,
        "log2_q": round(params.log2_q, 2),
        "primes": list(params.primes),
        "components": params.components,
        "t": t,
        "log2_t": round(math.log2(t), 2),
        "error": f"CBD(eta={params.error_eta})",
        "error_sigma": round(params.error_sigma, 3),
        "he_standard_ok": params.he_standard_ok(),
        "security_bits": round(params.estimated_security_bits(), 1),
        "delta_bits": round(math.log2(params.delta), 2),
        "bound_B": bound,
        "k_max": k_max,
        "fresh_noise_worst_bits": round(math.log2(fresh), 2),
        "k_max_noise_worst_bits": round(math.log2(total), 2),
        "decryption_threshold_bits": round(math.log2(threshold), 2),
        "decryption_margin_bits": round(math.log2(threshold / total), 2),
        "decrypts_k_max": total < threshold,
        "id": params.id_bytes.hex(),
    }


def _run(args: argparse.Namespace) -> int:
    from ..bfv import PRESETS, norm_bound

    bound = norm_bound(args.tau, args.scale)
    rows = [describe(p, bound) for p in PRESETS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"BFV parameter sets (B = floor(τ·scale) = {bound}, τ = {args.tau:g}, "
                        f"scale = {args.scale:g})", show_lines=False)
    table.add_column("")
    for row in rows:
        header = row["name"] + ("\n[bold red]INSECURE: tests only[/]" if row["insecure"] else "")
        table.add_column(header, overflow="fold")
    fields = [
        ("n", "N"), ("log2_q", "log2 q"), ("primes", "primes (≡ 5 mod 8: X^N+1 has 2 factors)"),
        ("components", "L' (chunks per ciphertext group)"), ("t", "t"),
        ("error", "error distribution"), ("error_sigma", "error σ"),
        ("he_standard_ok", "HE standard (128-bit, ternary s)"),
        ("security_bits", "estimated security (bits)"), ("delta_bits", "log2 Δ"),
        ("bound_B", "B (‖m‖₂ bound per client)"), ("k_max", "K_max = ⌊(t/2−1)/B⌋"),
        ("fresh_noise_worst_bits", "fresh noise ≤ 2^x (worst case)"),
        ("k_max_noise_worst_bits", "noise of K_max sum ≤ 2^x"),
        ("decryption_threshold_bits", "decryption threshold 2^x"),
        ("decryption_margin_bits", "decryption margin (bits)"),
        ("decrypts_k_max", "K_max sum always decrypts"), ("id", "parameter id"),
    ]
    for key, title in fields:
        cells = []
        for row in rows:
            v = row[key]
            if isinstance(v, bool):
                cells.append("[green]pass[/]" if v else "[red]FAIL[/]")
            elif key == "t":
                cells.append(f"2^{int(math.log2(v))}")
            elif key == "primes":
                cells.append(", ".join(str(x) for x in v))
            else:
                cells.append(str(v))
        table.add_row(title, *cells)
    console = Console()
    if not console.is_terminal:  # piped or captured: do not fold the set names
        console = Console(width=150)
    console.print(table)
    console.print("Noise rows are worst-case bounds: fresh ‖v‖∞ ≤ η(2N+1); margin = "
                  "log2((q/(2t) − (q mod t)/2) / (K_max·η(2N+1))), > 0 means the sum of "
                  "K_max clients always decrypts.")
    return 0
