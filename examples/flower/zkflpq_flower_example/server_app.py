"""ServerApp: quickstart-pytorch's FedAvg, wrapped in ``ZkflpqStrategy``.

The wrapper adds the round's zkflpq configuration (the key authority's signed BFV public
key, τ, K_min, round id) to every train message, verifies each reply's norm proof and
signature before anything is summed, rejects with a reason code, and has the key
authority decrypt the sum only when ≥ K_min updates were accepted; FedAvg then receives
the decrypted (unweighted) mean. The ServerApp never holds the BFV secret key: it lives in
the key authority — in this simulation ``InProcessKeyAuthority`` (the real
``services.key_authority`` service in a temporary directory), in a deployment
``HttpKeyAuthority`` talking to the separate service.

Prints one line per round: accuracy on the held-out set, accepted, rejected with reasons.
With run-config ``results-json=<path>`` it also writes the rounds as JSON (for the README
table).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from logging import INFO
from typing import Any

from flwr.app import ArrayRecord, Context, MetricRecord
from flwr.common.logger import log
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from services.flower import InProcessKeyAuthority
from zkflpq.flower import ZkflpqStrategy
from zkflpq.flower.keys import provision_keys

from . import task


class _MeasuredFedAvg(FedAvg):
    """FedAvg that records the payload bytes of each reply (for the side-by-side)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.reply_bytes: dict[int, list[int]] = {}

    def aggregate_train(self, server_round: int, replies):
        replies = list(replies)
        self.reply_bytes[server_round] = [
            sum(a.numpy().nbytes for rec in m.content.array_records.values()
                for a in rec.values())
            for m in replies if not m.has_error()]
        return super().aggregate_train(server_round, replies)


def make_app(overrides: dict[str, Any] | None = None) -> ServerApp:
    """The ServerApp; ``overrides`` replace run-config values (for run_simulation)."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        _main(grid, context, task.app_config(context.run_config, overrides))

    return app


def _main(grid: Grid, context: Context, cfg: dict[str, Any]) -> None:
    mode = str(cfg["mode"])
    if mode not in ("zkflpq", "fedavg", "secaggplus"):
        raise ValueError("run-config mode must be 'zkflpq', 'fedavg' or 'secaggplus', "
                         f"not {mode!r}")
    if mode == "secaggplus":
        _main_secaggplus(grid, context, cfg)
        return
    n = int(cfg["num-nodes"])
    inner = _MeasuredFedAvg(fraction_train=1.0, fraction_evaluate=0.0,
                            min_available_nodes=n, min_train_nodes=n)
    strategy: Any = inner
    ka = None
    keys = task.key_dir(context.run_id)
    if mode == "zkflpq":
        ka = InProcessKeyAuthority(str(cfg["params"]), min_clients=2)
        # Simulation enrolment: one ML-DSA key per SuperNode in a fresh 0700 directory
        # (mkdir fails if it exists, so nobody can pre-seed keys), enrolled at the key
        # authority; the SuperNodes pin the key authority's fingerprint.
        os.mkdir(keys, 0o700)
        ka.enrol(provision_keys(keys, n))
        (keys / "ka.fingerprint").write_text(ka.fingerprint + "\n")
        strategy = ZkflpqStrategy(inner, ka, k_min=int(cfg["k-min"]), tau=float(cfg["tau"]),
                                  scale=float(cfg["scale"]),
                                  workers=int(cfg["verify-workers"]))
    test = task.load_test(cfg)
    rows: list[dict[str, Any]] = []
    clock = [time.perf_counter()]

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        model = task.make_model(cfg)
        model.load_state_dict(arrays.to_torch_state_dict())
        acc = task.test_accuracy(model, test, cfg)
        if server_round == 0:
            log(INFO, "zkflpq example [%s]: round 0 accuracy %.4f", mode, acc)
            clock[0] = time.perf_counter()
            return MetricRecord({"accuracy": acc})
        row: dict[str, Any] = {"round": server_round, "accuracy": round(acc, 4),
                               "round_s": round(time.perf_counter() - clock[0], 2)}
        sizes = inner.reply_bytes.get(server_round, [])
        if mode == "zkflpq":
            out = strategy.history[server_round]
            sizes = list(out.reply_bytes.values())
            row.update(accepted=len(out.accepted), rejected=out.reasons(),
                       dropped=len(out.dropped), decrypted=out.decrypted,
                       verify_s=round(out.verify_s, 2))
        else:
            row.update(accepted=len(sizes), rejected={}, dropped=n - len(sizes))
        row["bytes_per_client_msg"] = int(sum(sizes) / len(sizes)) if sizes else 0
        rows.append(row)
        log(INFO, "zkflpq example [%s]: round %d accuracy %.4f accepted %d rejected %s "
            "(%.1f s, %d bytes per client message)", mode, server_round, acc,
            row["accepted"], row["rejected"] or "none", row["round_s"],
            row["bytes_per_client_msg"])
        clock[0] = time.perf_counter()
        return MetricRecord({"accuracy": acc})

    t0 = time.perf_counter()
    try:
        strategy.start(grid=grid, initial_arrays=ArrayRecord(task.make_model(cfg).state_dict()),
                       num_rounds=int(cfg["num-server-rounds"]), evaluate_fn=evaluate_fn)
    finally:
        if ka is not None:
            strategy.close()
            ka.close()
            shutil.rmtree(keys, ignore_errors=True)
    RESULTS[:] = rows   # for in-process drivers (tests) of run_simulation
    out_path = str(cfg.get("results-json", "") or "")
    if out_path:
        with open(out_path, "w", encoding="utf-8") as fh:
            json.dump({"mode": mode, "params": str(cfg["params"]), "rounds": rows,
                       "total_s": round(time.perf_counter() - t0, 1)}, fh)


class _MeasuredGrid:
    """Delegates to the Grid; records, per round and SecAgg+ stage, the payload bytes of
    each client reply (bytes values of its config records: public keys, encrypted shares,
    the masked vector, the key shares) — what a client sends in that stage."""

    def __init__(self, grid: Grid) -> None:
        self._grid = grid
        self.replies: dict[int, dict[str, list[int]]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)

    def send_and_receive(self, messages, *args: Any, **kw: Any):
        messages = list(messages)
        stage = ""
        for m in messages:
            conf = m.content.config_records.get("secaggplus_configs")
            stage = str(conf.get("stage", "")) if conf is not None else ""
        out = list(self._grid.send_and_receive(messages, *args, **kw))
        rnd = int(messages[0].metadata.group_id) if messages and \
            messages[0].metadata.group_id.isdigit() else 0
        per = self.replies.setdefault(rnd, {})
        for m in out:
            if m.has_error():
                continue
            n = 0
            for rec in m.content.config_records.values():
                for v in rec.values():
                    vals = v if isinstance(v, list) else [v]
                    n += sum(len(b) for b in vals if isinstance(b, bytes))
            n += sum(a.numpy().nbytes for rec in m.content.array_records.values()
                     for a in rec.values())
            per.setdefault(stage or "other", []).append(n)
        return out


def _main_secaggplus(grid: Grid, context: Context, cfg: dict[str, Any]) -> None:
    """mode='secaggplus': Flower's SecAgg+ (``SecAggPlusWorkflow`` + ``secaggplus_mod``)
    on the same model, data, seed and poisoner. SecAgg+ exists only for the legacy layout
    (LegacyContext, DefaultWorkflow, a legacy FedAvg strategy, a NumPyClient); it masks
    the weighted parameters, verifies nothing, and rejects no one."""
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.strategy import FedAvg as LegacyFedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    n = int(cfg["num-nodes"])
    test = task.load_test(cfg)
    rows: list[dict[str, Any]] = []
    clock = [time.perf_counter()]
    mgrid = _MeasuredGrid(grid)

    def evaluate_fn(server_round: int, ndarrays, _config):
        model = task.make_model(cfg)
        task.set_ndarrays(model, ndarrays)
        acc = task.test_accuracy(model, test, cfg)
        if server_round == 0:
            log(INFO, "zkflpq example [secaggplus]: round 0 accuracy %.4f", acc)
            clock[0] = time.perf_counter()
            return 0.0, {"accuracy": acc}
        stages = mgrid.replies.get(server_round, {})
        masked = stages.get("collect_masked_vectors", [])
        per_client = sum(sum(v) for v in stages.values()) / max(len(masked), 1)
        row: dict[str, Any] = {
            "round": server_round, "accuracy": round(acc, 4),
            "round_s": round(time.perf_counter() - clock[0], 2),
            # SecAgg+ has no rejection: every reply is summed, the poisoner's too.
            "accepted": len(masked), "rejected": {}, "dropped": n - len(masked),
            "bytes_per_client_msg": int(sum(masked) / len(masked)) if masked else 0,
            "bytes_per_client_all_stages": int(per_client),
            "bytes_by_stage": {k: int(sum(v) / len(v)) for k, v in stages.items() if v}}
        rows.append(row)
        log(INFO, "zkflpq example [secaggplus]: round %d accuracy %.4f summed %d rejected "
            "none (%.1f s, %d bytes per masked-vector message, %d bytes per client over "
            "the 4 stages)", server_round, acc, row["accepted"], row["round_s"],
            row["bytes_per_client_msg"], row["bytes_per_client_all_stages"])
        clock[0] = time.perf_counter()
        return 0.0, {"accuracy": acc}

    strategy = LegacyFedAvg(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=n, min_available_clients=n,
        initial_parameters=ndarrays_to_parameters(
            [v.detach().cpu().numpy() for v in task.make_model(cfg).state_dict().values()]),
        evaluate_fn=evaluate_fn, on_fit_config_fn=lambda r: {"server-round": r})
    legacy = LegacyContext(context, config=ServerConfig(num_rounds=int(cfg["num-server-rounds"])),
                           strategy=strategy)
    workflow = DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(
        num_shares=int(cfg["secagg-num-shares"]),
        reconstruction_threshold=int(cfg["secagg-reconstruction-threshold"]),
        clipping_range=float(cfg["secagg-clipping-range"])))
    t0 = time.perf_counter()
    workflow(mgrid, legacy)  # type: ignore[arg-type]
    RESULTS[:] = rows
    out_path = str(cfg.get("results-json", "") or "")
    if out_path:
        with open(out_path, "w", encoding="utf-8") as fh:
            json.dump({"mode": "secaggplus", "rounds": rows,
                       "secaggplus": {k: cfg[k] for k in (
                           "secagg-num-shares", "secagg-reconstruction-threshold",
                           "secagg-clipping-range")},
                       "total_s": round(time.perf_counter() - t0, 1)}, fh)


RESULTS: list[dict[str, Any]] = []

app = make_app()
