"""The Flower app of examples/flower through Flower's run_simulation (Ray, 5 SuperNodes,
INSECURE_N64 set, reduced MLP) and the default parameter set on one round."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")
pytest.importorskip("ray")   # flwr[simulation]

# The Message-level helpers and the task-identity fixture of test_flower (tests/flower is
# on sys.path: pytest's default import mode).
from test_flower import (  # noqa: E402, F401
    SCALE,
    SHAPES,
    global_arrays,
    honest_update,
    make_strategy,
    run_round,
    task_identity,
)

from services.flower import InProcessKeyAuthority  # noqa: E402
from zkflpq.bfv import DEFAULT  # noqa: E402
from zkflpq.pq import SigningKey  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flower"


@pytest.fixture(scope="module")
def example_app():
    sys.path.insert(0, str(EXAMPLE))
    try:
        from zkflpq_flower_example import client_app, server_app
        yield client_app, server_app
    finally:
        sys.path.remove(str(EXAMPLE))


def test_example_app_run_simulation_rejects_the_poisoner(example_app, monkeypatch):
    from flwr.simulation import run_simulation

    client_app, server_app = example_app
    # Ray workers import the app package by name: give them the example's path.
    monkeypatch.setenv("PYTHONPATH", f"{EXAMPLE}:{Path.cwd()}")
    over = {"params": "INSECURE-bfv3-n64-q81-t34-l3", "num-server-rounds": 4, "tau": 2.0,
            "scale": 4096.0, "local-epochs": 1, "samples": 400}
    run_simulation(server_app=server_app.make_app(over), client_app=client_app.make_app(over),
                   num_supernodes=5, backend_config={"client_resources": {"num_cpus": 1}})
    rows = server_app.RESULTS
    assert [r["round"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert r["decrypted"] and r["dropped"] == 0
        if r["round"] < 3:      # the poisoner (partition 2) is honest before round 3
            assert r["accepted"] == 5 and r["rejected"] == {}
        else:                   # rejected every round from 3 on, and no honest client
            assert r["accepted"] == 4 and r["rejected"] == {"proof_invalid": 1}
    assert rows[-1]["accuracy"] > 0.5


@pytest.fixture(scope="module")
def default_ka():
    return InProcessKeyAuthority(DEFAULT.name, min_clients=2)


def test_default_parameter_set_one_round(default_ka):
    sks = [SigningKey.generate() for _ in range(3)]
    default_ka.enrol([sk.verify_key() for sk in sks])
    s = make_strategy(default_ka, k_min=3)
    g = global_arrays(7)
    (arrays, _), _ = run_round(s, default_ka, sks, 1, g)
    out = s.history[1]
    assert out.decrypted and len(out.accepted) == 3 and not out.rejected
    for k in SHAPES:
        expect = g[k].numpy() + np.mean([honest_update(i, 1)[k] for i in range(3)], axis=0)
        assert np.max(np.abs(arrays[k].numpy() - expect)) <= 1.0 / SCALE + 1e-6
