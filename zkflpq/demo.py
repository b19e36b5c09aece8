"""`zkflpq demo`: the whole system on loopback, with real processes.

1. A key authority is initialised (BFV default set, N = 4096, X-Wing) and started, then an
   aggregator (SQLite in a temporary data directory, 2 verification worker processes),
   each as its own ``uvicorn`` process on a free port. The aggregator's signing key is
   enrolled at the key authority.
2. Five hospitals generate ML-DSA-65 keys and are enrolled at both services.
3. The paper's setting: synthetic medical data (1000 samples, 784 features, 4 classes,
   Dirichlet(0.5) split), MLP 784-128-64-4 (108,996 parameters), 3 local epochs, SGD lr
   0.01, τ = 5, scale 2^16 (B = 327,680), K_min = 3.
4. Each round: the admin opens it; every client agent downloads the sealed model, trains,
   clips, quantises, encrypts all 27 chunks, proves, signs, seals and submits over REST;
   the admin closes it; the key authority decrypts the sum; the aggregator publishes
   previous model + mean of the accepted updates; accuracy is measured on held-out data.
5. From round 3 client 3 is malicious: it sends pure Gaussian noise N(0, 50²) per
   coordinate (‖·‖ ≈ 16,500 ≫ τ), skipping clipping. An honest prover refuses to prove
   that, so it does what a real attacker can: it encrypts the oversized update and
   attaches a valid proof made for the *clipped* update's (different) ciphertexts. The
   aggregator's verifier recomputes the Fiat–Shamir challenge from the statement it
   received — the oversized ciphertexts — and rejects with reason ``proof_invalid``.

Inside each round the console shows progress (:class:`DemoProgress`): how many clients
have trained, encrypted + proven, and been verified by the aggregator, then the close
(the key authority decrypting the sum). On a terminal these are live bars; otherwise
status lines (at most one every few seconds, plus one per finished stage). With ``--json``
stdout carries only the JSON object; progress goes to stderr when that is a terminal and
is off otherwise (and ``--no-progress`` turns it off everywhere). The final table never
truncates a cell (:func:`print_summary`): it is printed at its natural width when it fits
or when the output is not a terminal, and as one plain line per round otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoProgress", "add_arguments", "build_table", "print_summary", "run",
           "run_demo"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress display inside rounds")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=5)
    p.add_argument("--malicious-client", type=int, default=3,
                   help="1-based index of the poisoning client (0: none)")
    p.add_argument("--malicious-from", type=int, default=3, help="first poisoned round")
    p.add_argument("--params", default="default",
                   help="BFV parameter set (default: the 128-bit N = 4096 set)")
    p.add_argument("--kem", choices=["xwing", "mlkem768"], default="xwing")
    p.add_argument("--tau", type=float, default=5.0)
    p.add_argument("--scale", type=float, default=65536.0)
    p.add_argument("--k-min", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--hidden", default="128,64", help="MLP hidden sizes")
    p.add_argument("--workers", type=int, default=2, help="aggregator verification workers")
    p.add_argument("--parallel-clients", type=int, default=2,
                   help="client agents running at the same time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None,
                   help="keep keys, databases and logs here (default: a temporary dir)")


def run(args: argparse.Namespace) -> int:
    result = run_demo(args)
    return 0 if result["ok"] else 1


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _console(json_mode: bool) -> Any:
    from rich.console import Console

    stream = sys.stderr if json_mode else sys.stdout
    return Console(stderr=json_mode, width=None if _isatty(stream) else 130)


class DemoProgress:
    """Progress inside a round, fed from the client threads (thread-safe).

    ``live``: rich progress bars (for a terminal); otherwise plain status lines, at most
    one every ``min_interval_s`` seconds plus one whenever a stage finishes for every
    client and one when the round closes. ``enabled=False``: silent (counters only).
    """

    STAGES = ("trained", "proven", "verified")

    def __init__(self, console: Any, n_clients: int, n_rounds: int, *, live: bool | None = None,
                 enabled: bool = True, min_interval_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.n = n_clients
        self.n_rounds = n_rounds
        self.enabled = enabled
        self.live = (bool(console.is_terminal and not console.is_dumb_terminal)
                     if live is None else live)
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._lock = threading.Lock()
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self.round = 0
        self.counts: dict[str, int] = self._zero()
        self.lines: list[str] = []  # the plain status lines printed (for tests and logs)
        self._t0 = self._last = 0.0

    @staticmethod
    def _zero() -> dict[str, int]:
        return {"training": 0, "trained": 0, "proving": 0, "proven": 0, "verifying": 0,
                "verified": 0, "accepted": 0, "rejected": 0}

    # -- events -----------------------------------------------------------------------------

    def start_round(self, rnd: int) -> None:
        with self._lock:
            self.round = rnd
            self.counts = self._zero()
            self._t0 = self.clock()
            self._last = -1e9
            if not self.enabled:
                return
            if self.live:
                self._start_bars()
            else:
                self._emit(f"clients training ({self.n} clients)")

    def event(self, what: str, accepted: bool | None = None) -> None:
        """``training``/``trained``, ``proving``/``proven``, ``verified`` (with ``accepted``)."""
        with self._lock:
            c = self.counts
            if what == "training":
                c["training"] += 1
            elif what == "trained":
                c["training"] -= 1
                c["trained"] += 1
            elif what == "proving":
                c["proving"] += 1
            elif what == "proven":
                c["proving"] -= 1
                c["proven"] += 1
                c["verifying"] += 1
            elif what == "verified":
                c["verifying"] = max(0, c["verifying"] - 1)
                c["verified"] += 1
                c["accepted" if accepted else "rejected"] += 1
            else:  # pragma: no cover - programming error
                raise ValueError(what)
            if not self.enabled:
                return
            if self.live:
                self._update_bars()
            elif what in self.STAGES:
                stage_done = c[what] == self.n
                now = self.clock()
                if stage_done or now - self._last >= self.min_interval_s:
                    self._emit(self.status_text())

    def closing(self) -> None:
        with self._lock:
            if not self.enabled:
                return
            text = (f"closing: key authority decrypting the sum of "
                    f"{self.counts.get('accepted', 0)} accepted updates, aggregator "
                    "publishing the model")
            if self.live and self._progress is not None:
                short = f"close: decrypting the sum of {self.counts.get('accepted', 0)}"
                self._tasks["close"] = self._progress.add_task(self._label(short), total=None)
            else:
                self._emit(text)

    def end_round(self) -> None:
        with self._lock:
            if self._progress is not None:
                for task in self._tasks.values():
                    self._progress.remove_task(task)
                self._tasks = {}

    def stop(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
                self._tasks = {}

    # -- rendering --------------------------------------------------------------------------

    def status_text(self) -> str:
        c = self.counts
        text = (f"trained {c['trained']}/{self.n}, encrypted+proven {c['proven']}/{self.n}, "
                f"verified {c['verified']}/{self.n} "
                f"(accepted {c['accepted']}, rejected {c['rejected']})")
        if c["verifying"]:
            text += f"; {c['verifying']} submitting/verifying"
        return text

    def _label(self, text: str) -> str:
        return f"round {self.round}/{self.n_rounds} {text}"

    def _emit(self, text: str) -> None:
        self._last = self.clock()
        line = f"  round {self.round}/{self.n_rounds} [{self._last - self._t0:5.1f} s] {text}"
        self.lines.append(line)
        self.console.print(line, highlight=False, markup=False)

    def _start_bars(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        if self._progress is None:
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                      BarColumn(bar_width=20), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=self.console,
                                      transient=True)
            self._progress.start()
        self._tasks = {
            stage: self._progress.add_task(self._describe(stage), total=self.n)
            for stage in self.STAGES}

    def _describe(self, stage: str) -> str:
        # Short enough for the bars to fit an 80-column terminal.
        c = self.counts
        if stage == "trained":
            return self._label(f"train ({c['training']} running)")
        if stage == "proven":
            return self._label(f"encrypt+prove ({c['proving']} running)")
        extra = [f"{c['verifying']} pending"] if c["verifying"] else []
        extra += [f"{c['rejected']} rejected"] if c["rejected"] else []
        return self._label("verified" + (f" ({', '.join(extra)})" if extra else ""))

    def _update_bars(self) -> None:
        if self._progress is None:
            return
        for stage, task in self._tasks.items():
            if stage in self.STAGES:
                self._progress.update(task, completed=self.counts[stage],
                                      description=self._describe(stage))


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    from services.common.launch import LocalDeployment
    from zkflpq.agent import AggregatorClient, ClientAgent
    from zkflpq.fl import (
        dirichlet_split,
        evaluate,
        flatten_params,
        layout_to_json,
        local_train,
        make_mlp,
        make_synthetic_medical,
        model_layout,
        train_test_split,
    )
    from zkflpq.pq import SigningKey
    from zkflpq.zkbridge import forge_mismatched_update, prove_update

    console = _console(args.json)
    quiet = args.json
    show_progress = not getattr(args, "no_progress", False) and (
        not quiet or bool(console.is_terminal))
    progress = DemoProgress(console, args.clients, args.rounds, enabled=show_progress,
                            live=bool(console.is_terminal and not console.is_dumb_terminal))
    hidden = tuple(int(x) for x in args.hidden.split(",") if x)
    data = make_synthetic_medical(args.samples, seed=42)
    train, test = train_test_split(data, 0.2)
    shards = dirichlet_split(train, args.clients, alpha=0.5, seed=42)
    net = make_mlp(train.n_features, hidden, train.n_classes, seed=args.seed)
    model0 = flatten_params(net)
    layout = layout_to_json(model_layout(net))
    mal_index = args.malicious_client - 1

    tmp = None
    root = args.data_dir
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="zkflpq-demo-")
        root = Path(tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    status = console.status("starting the key authority and the aggregator …") \
        if not quiet else None
    t_start = time.perf_counter()
    rounds: list[dict[str, Any]] = []
    poisoned_total = poisoned_rejected = honest_rejected = 0
    poisoned_reasons: Counter[str] = Counter()
    dep = LocalDeployment(root, params=args.params, kem=args.kem,
                          verify_workers=args.workers, verify_queue=2 * args.clients)
    try:
        if status:
            status.start()
        dep.start()
        startup_s = time.perf_counter() - t_start
        if status:
            status.stop()
        admin = dep.admin()
        params_doc = admin.params()
        keys = [SigningKey.generate() for _ in range(args.clients)]
        for i, k in enumerate(keys):
            admin.enrol_client(k.verify_key(), f"hospital-{i + 1}")
        if not quiet:
            console.print(f"[bold]zkflpq demo[/] — key authority {dep.ka.url if dep.ka else ''}"
                          f", aggregator {dep.aggregator.url} (separate uvicorn processes, "
                          f"SQLite in {root}); started in {startup_s:.1f} s")
            console.print(f"parameter set {params_doc['params']} (N = {params_doc['n']}), "
                          f"KEM {params_doc['kem']['algorithm']}, ML-DSA-65 signatures; "
                          f"model d = {model0.size:,}; {args.clients} clients enrolled; "
                          f"client {args.malicious_client} poisons from round "
                          f"{args.malicious_from}")

        clients = [AggregatorClient(dep.aggregator.url, signing_key=k, timeout=300.0)
                   for k in keys]
        model = model0
        for rnd in range(1, args.rounds + 1):
            t_round = time.perf_counter()
            opened = admin.open_round(tau=args.tau, scale=args.scale, k_min=args.k_min,
                                      model=model if rnd == 1 else None, layout=layout)
            round_id = int(opened["round_id"])
            progress.start_round(round_id)

            def one(i: int, rnd: int = rnd, opened: dict[str, Any] = opened
                    ) -> tuple[int, Any, bool]:
                malicious = (i == mal_index and rnd >= args.malicious_from)
                seed = [args.seed, rnd, i]
                if malicious:
                    def train_fn(vec: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
                        rng = np.random.default_rng(seed)
                        return rng.normal(0.0, 50.0, size=vec.shape).astype(np.float32)
                    agent = ClientAgent(clients[i], _tracked(train_fn, progress, "train"),
                                        clip=False,
                                        build=_tracked(forge_mismatched_update, progress,
                                                       "prove"))
                else:
                    def train_fn(vec: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
                        return local_train(vec, shards[i], args.epochs, 0.01, 32, seed=seed,
                                           hidden=hidden)
                    agent = ClientAgent(clients[i], _tracked(train_fn, progress, "train"),
                                        build=_tracked(prove_update, progress, "prove"))
                report = agent.run_round(opened)
                progress.event("verified", accepted=report.accepted)
                return i, report, malicious

            with ThreadPoolExecutor(max_workers=max(1, args.parallel_clients)) as ex:
                reports = list(ex.map(one, range(args.clients)))
            t_clients = time.perf_counter() - t_round
            t_close = time.perf_counter()
            progress.closing()
            closed = admin.close_round(round_id)
            close_s = time.perf_counter() - t_close
            status_doc = admin.status(round_id)
            if closed.get("state") == "closed":
                model = admin.model(round_id, "result")
            acc = float(evaluate(model, test, hidden=hidden))
            progress.end_round()
            rejected: Counter[str] = Counter()
            for _i, rep, malicious in reports:
                res = rep.result
                ok = res is not None and res.accepted
                if not ok:
                    reason = (res.reason if res is not None else None) or "error"
                    rejected[reason] += 1
                if malicious:
                    poisoned_total += 1
                    if not ok:
                        poisoned_rejected += 1
                        poisoned_reasons[(res.reason if res else None) or "error"] += 1
                elif not ok:
                    honest_rejected += 1
            n = len(reports)

            def mean(key: str, reports: list[Any] = reports, n: int = n) -> float:
                return sum(r.timings.get(key, 0.0) for _, r, _ in reports) / n / 1000

            rounds.append({
                "round": round_id, "accuracy": round(acc, 4),
                "accepted": int(status_doc["accepted"]), "rejected": dict(rejected),
                "state": closed.get("state"),
                "timings_s": {
                    "train": round(mean("train_ms"), 3),
                    "encrypt": round(mean("encrypt_ms"), 3),
                    "prove": round(mean("prove_ms"), 3),
                    "submit_verify": round(mean("submit_ms"), 3),
                    "clients_wall": round(t_clients, 3),
                    "close_decrypt": round(close_s, 3),
                    "round_wall": round(time.perf_counter() - t_round, 3)},
                "bytes": {"ciphertexts": reports[0][1].ciphertext_bytes,
                          "proof": reports[0][1].proof_bytes},
            })
            if not quiet:
                r = rounds[-1]
                console.print(f"round {round_id}: accuracy {acc:.3f}, accepted "
                              f"{r['accepted']}, rejected {dict(rejected) or '-'} "
                              f"({r['timings_s']['round_wall']:.1f} s)")
        for c in clients:
            c.close()
        admin.close()
    finally:
        progress.stop()
        if status:
            status.stop()
        dep.stop()
    poisoned_ok = poisoned_total > 0 and poisoned_rejected == poisoned_total
    if args.malicious_client <= 0 or args.malicious_from > args.rounds:
        poisoned_ok = poisoned_total == 0
    out = {"rounds": [{k: r[k] for k in ("round", "accuracy", "accepted", "rejected",
                                         "timings_s")} for r in rounds],
           "poisoned_rejected": bool(poisoned_ok),
           "poisoned_reasons": dict(poisoned_reasons),
           "honest_rejected": honest_rejected,
           "params": params_doc["params"], "d": int(model0.size),
           "ciphertext_bytes": rounds[0]["bytes"]["ciphertexts"] if rounds else 0,
           "proof_bytes": rounds[0]["bytes"]["proof"] if rounds else 0,
           "startup_s": round(startup_s, 2),
           "total_s": round(time.perf_counter() - t_start, 2)}
    ok = (len(rounds) == args.rounds and honest_rejected == 0 and poisoned_ok
          and all(r["state"] == "closed" for r in rounds))
    if args.json:
        print(json.dumps(out))
    else:
        print_summary(console, rounds, out)
    if tmp is not None:
        tmp.cleanup()
    out["ok"] = ok
    return out


def _tracked(fn: Callable[..., Any], progress: DemoProgress, stage: str) -> Callable[..., Any]:
    """``fn`` reporting its start and end to ``progress`` (``train`` or ``prove``)."""
    start, done = ("training", "trained") if stage == "train" else ("proving", "proven")

    def wrapped(*a: Any, **kw: Any) -> Any:
        progress.event(start)
        result = fn(*a, **kw)
        progress.event(done)
        return result

    return wrapped


_COLUMNS = (  # (header, right-justified)
    ("round", True), ("accuracy", True), ("accepted", True), ("rejected\n(reason: n)", False),
    ("train\ns", True), ("encrypt\ns", True), ("prove\ns", True), ("submit +\nverify s", True),
    ("close +\ndecrypt s", True), ("round\ns", True))


def _cells(r: dict[str, Any]) -> list[str]:
    ts = r["timings_s"]
    rej = ", ".join(f"{k}: {v}" for k, v in r["rejected"].items()) or "-"
    return [str(r["round"]), f"{r['accuracy']:.3f}", str(r["accepted"]), rej,
            f"{ts['train']:.2f}", f"{ts['encrypt']:.2f}", f"{ts['prove']:.2f}",
            f"{ts['submit_verify']:.2f}", f"{ts['close_decrypt']:.2f}",
            f"{ts['round_wall']:.1f}"]


def build_table(rounds: list[dict[str, Any]]) -> Any:
    """The per-round table (a rich ``Table``; cells fold rather than being cut)."""
    from rich.table import Table

    t = Table(title="zkflpq demo: federated rounds over REST (verified before aggregation)")
    for header, right in _COLUMNS:
        t.add_column(header, justify="right" if right else "left", overflow="fold")
    for r in rounds:
        t.add_row(*_cells(r))
    return t


def _footer(out: dict[str, Any]) -> str:
    return (f"per-client times are means over clients; ciphertexts {out['ciphertext_bytes']:,} B "
            f"+ proof {out['proof_bytes']:,} B per update; poisoned updates rejected: "
            f"{'yes' if out['poisoned_rejected'] else 'NO'} {out['poisoned_reasons'] or ''}; "
            f"honest updates rejected: {out['honest_rejected']}; total {out['total_s']:.1f} s")


def print_summary(console: Any, rounds: list[dict[str, Any]], out: dict[str, Any]) -> None:
    """Print the final table without ever cutting a cell.

    At its natural width when it fits the console, or when the console is not a terminal
    (a pipe or a file has no width to respect); otherwise (a narrow terminal) one plain,
    word-wrapped line per round.
    """
    from rich.measure import Measurement

    table = build_table(rounds)
    need = Measurement.get(console, console.options.update(width=10_000), table).maximum
    if need <= console.width:
        console.print(table)
    elif not console.is_terminal:
        # (Console.print caps ``width`` at the console's: print through a wider one.)
        from rich.console import Console

        Console(file=console.file, width=need, color_system=console.color_system,
                force_terminal=False, highlight=False).print(table)
    else:
        console.print("zkflpq demo: federated rounds over REST (verified before aggregation)",
                      style="bold", highlight=False)
        for r in rounds:
            c = _cells(r)
            console.print(f"round {c[0]}: accuracy {c[1]}, accepted {c[2]}, rejected {c[3]}; "
                          f"per client: train {c[4]} s, encrypt {c[5]} s, prove {c[6]} s, "
                          f"submit+verify {c[7]} s; close+decrypt {c[8]} s; "
                          f"round total {c[9]} s", highlight=False, markup=False)
    console.print(_footer(out), highlight=False, markup=False)
