"""mode='secaggplus' of the example app (Flower's SecAgg+, the README's third column) in
process: a minimal Grid hands each message straight to the ClientApp (no Ray, no SuperLink),
so SecAggPlusWorkflow and secaggplus_mod run all four stages for real."""

from __future__ import annotations

import copy
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("flwr")

# Server-side Messages need the run/task id Flower's runtime sets (fixture of test_flower;
# tests/flower is on sys.path: pytest's default import mode).
from test_flower import task_identity  # noqa: E402, F401

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flower"


class _InProcessGrid:
    def __init__(self, client_app, n: int) -> None:
        from flwr.app import Context, RecordDict

        self.run = SimpleNamespace(run_id=1)
        self._app = client_app
        self._ctx = {nid: Context(run_id=1, node_id=nid, state=RecordDict(), run_config={},
                                  node_config={"partition-id": nid - 1, "num-partitions": n})
                     for nid in range(1, n + 1)}

    def get_node_ids(self):
        return list(self._ctx)

    def send_and_receive(self, messages, timeout=None):
        out = []
        for m in messages:
            # A copy per node, as a transport would deliver it (the workflow shares one
            # ConfigRecord between nodes' messages and the mod pops keys from it).
            m = copy.deepcopy(m)
            m.metadata.__dict__["_message_id"] = uuid.uuid4().hex
            m.metadata.__dict__["_src_node_id"] = 0
            reply = self._app(m, self._ctx[m.metadata.dst_node_id])
            reply.metadata.__dict__["_src_node_id"] = m.metadata.dst_node_id
            out.append(reply)
        return out


def test_secaggplus_mode_sums_the_poisoner():
    from flwr.app import Context, RecordDict

    sys.path.insert(0, str(EXAMPLE))
    try:
        from zkflpq_flower_example import client_app, server_app
    finally:
        sys.path.remove(str(EXAMPLE))
    over = {"mode": "secaggplus", "num-server-rounds": 3, "local-epochs": 1,
            "samples": 400}
    grid = _InProcessGrid(client_app.make_app(over), 5)
    ctx = Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={})
    server_app._main_secaggplus(grid, ctx, server_app.task.app_config({}, over))
    rows = server_app.RESULTS
    assert [r["round"] for r in rows] == [1, 2, 3]
    # SecAgg+ verifies nothing: every reply is summed, the poisoner's (from round 3) too.
    assert all(r["accepted"] == 5 and r["rejected"] == {} for r in rows)
    assert set(rows[0]["bytes_by_stage"]) == {"setup", "share_keys",
                                               "collect_masked_vectors", "unmask"}
    assert rows[1]["accuracy"] > 0.6 and rows[2]["accuracy"] < rows[1]["accuracy"]
