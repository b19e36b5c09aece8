"""ClientApp: Flower's quickstart-pytorch train function, plus the zkflpq mod.

``ClientApp(mods=[zkflpq_mod])`` is the whole change on a SuperNode: the mod lets ``train``
run, then replaces its reply (plaintext weights) by BFV ciphertexts of the clipped,
quantised update, a lattice proof of its norm bound and an ML-DSA signature. The other mod
here exists only for this simulation: it tells ``zkflpq_mod`` where its key file is, and
plays the attacker on one SuperNode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.client import NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp

from zkflpq.flower import make_zkflpq_mod, zkflpq_mod
from zkflpq.zkbridge import forge_mismatched_update

from . import task

# The attacker: no clipping, noise instead of the update, and a proof that was made for
# other (in-bound) ciphertexts — what a client that wants its poison summed would try.
_poison_mod = make_zkflpq_mod(clip=False, build=forge_mismatched_update,
                              transform=task.poisoned)


def make_app(overrides: dict[str, Any] | None = None) -> ClientApp:
    """The ClientApp; ``overrides`` replace run-config values (for run_simulation)."""

    def simulation_mod(msg: Message, context: Context, call_next):
        # A simulated SuperNode has no node-config of its own: point zkflpq_mod at the key
        # the ServerApp's enrolment step wrote for this partition (see task.key_dir).
        cfg = task.app_config(context.run_config, overrides)
        if str(cfg["mode"]) == "secaggplus":
            # Flower's SecAgg+ works only with the legacy layout (FitIns / FitRes): this
            # mode hands every message to a legacy ClientApp(client_fn, [secaggplus_mod]).
            return secagg_app(msg, context)
        if str(cfg["mode"]) != "zkflpq":
            return call_next(msg, context)
        context.node_config["zkflpq-key-dir"] = str(task.key_dir(context.run_id))
        pid = int(context.node_config["partition-id"])
        conf = msg.content.config_records.get("config")
        rnd = int(conf.get("server-round", 0)) if conf is not None else 0
        evil = pid == int(cfg["poison-partition"]) and rnd >= int(cfg["poison-from"])
        return (_poison_mod if evil else zkflpq_mod)(msg, context, call_next)

    def client_fn(context: Context):
        return _SecAggClient(context, task.app_config(context.run_config, overrides)).to_client()

    secagg_app = ClientApp(client_fn=client_fn, mods=[secaggplus_mod])
    app = ClientApp(mods=[simulation_mod])

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return _train(msg, context, task.app_config(context.run_config, overrides))

    return app


def _train(msg: Message, context: Context, cfg: dict[str, Any]) -> Message:
    pid = int(context.node_config["partition-id"])
    num = int(context.node_config["num-partitions"])
    rnd = int(msg.content["config"]["server-round"])
    model = task.make_model(cfg)
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    data = task.load_partition(pid, num, cfg)
    task.train(model, data, cfg, seed=int(cfg["seed"]) + 1000 * rnd + pid)
    arrays = ArrayRecord(model.state_dict())
    if str(cfg["mode"]) == "fedavg" and pid == int(cfg["poison-partition"]) \
            and rnd >= int(cfg["poison-from"]):
        # Plain FedAvg's poisoner sends the same noise in the clear: global + noise.
        g = msg.content["arrays"]
        arrays = ArrayRecord({k: Array(a.numpy() + task.poisoned(a.numpy(), rnd).astype("f4"))
                              for k, a in g.items()})
    return Message(RecordDict({"arrays": arrays,
                               "metrics": MetricRecord({"num-examples": len(data)})}),
                   reply_to=msg)


class _SecAggClient(NumPyClient):
    """mode='secaggplus': the same training and poisoner as mode='fedavg', as a NumPyClient
    (``secaggplus_mod`` then clips, quantises and masks the returned parameters)."""

    def __init__(self, context: Context, cfg: dict[str, Any]) -> None:
        self.pid = int(context.node_config["partition-id"])
        self.num = int(context.node_config["num-partitions"])
        self.cfg = cfg

    def fit(self, parameters, config):
        cfg, pid = self.cfg, self.pid
        rnd = int(config["server-round"])
        model = task.make_model(cfg)
        task.set_ndarrays(model, parameters)
        data = task.load_partition(pid, self.num, cfg)
        task.train(model, data, cfg, seed=int(cfg["seed"]) + 1000 * rnd + pid)
        out = [v.detach().cpu().numpy() for v in model.state_dict().values()]
        if pid == int(cfg["poison-partition"]) and rnd >= int(cfg["poison-from"]):
            out = [np.asarray(g) + task.poisoned(np.asarray(g), rnd).astype("f4")
                   for g in parameters]
        return out, len(data), {}


app = make_app()
