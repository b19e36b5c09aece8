"""`tau: "auto"` at the aggregator, through the real services: the first auto round gets
the rule's start; later ones the rule applied to the norms of past rounds' published means
(recomputed here from the downloaded start and result models), of the same model size
only, the last `window` of them; what was used is recorded in the round and shown to
admins and clients; malformed rules are 422s that name the field; a database made before
the column existed is migrated at start-up; and `zkflpq admin open-round --tau auto`.

Each test works on its own model size d, so its history is its own whichever worker runs
it (rounds of another d are ignored by the rule — one of the things tested)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from svc_helpers import (
    SCALE,
    fresh_postgres_database,
    postgres_url,
    start_deployment,
)

from zkflpq.agent import ClientAgent, ProtocolError
from zkflpq.cli import main
from zkflpq.fl.adaptive_tau import AdaptiveTau, AggregateObservation

pytestmark = pytest.mark.timeout(300)


# -- helpers ------------------------------------------------------------------------------
def _end_open_round(dep: Any) -> None:
    with dep.admin() as admin:
        cur = admin.status()
        if cur.get("state") in ("open", "deadline_passed", "closing"):
            try:
                admin.close_round(cur["round_id"])
            except ProtocolError:  # too few updates: the round still ends (failed)
                pass


def _open(dep: Any, d: int, *, tau: float | str, seed: int = 0,
          tau_rule: dict[str, Any] | None = None, scale: float = SCALE) -> dict[str, Any]:
    _end_open_round(dep)
    model = np.random.default_rng(seed).normal(size=d).astype(np.float32)
    with dep.admin() as admin:
        return admin.open_round(tau=tau, scale=scale, k_min=2, model=model, tau_rule=tau_rule)


def _updates(d: int, norms: list[float], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for norm in norms:
        u = rng.normal(size=d)
        out.append((u / np.linalg.norm(u) * norm).astype(np.float32))
    return out


def _submit_and_close(dep: Any, clients: Any, cfg: dict[str, Any],
                      updates: list[np.ndarray]) -> int:
    """Real clients (ClientAgent: clip to the round's τ, encrypt, prove, submit) send the
    updates into the open round ``cfg``; the round is closed through the key authority."""
    rid = int(cfg["round_id"])
    for u in updates:
        c = clients.new()
        try:
            rep = ClientAgent(c, lambda _m, _cfg, u=u: u).run_round()
        finally:
            c.close()
        assert rep.accepted and rep.round_id == rid, rep.result
    with dep.admin() as admin:
        closed = admin.close_round(rid)
    assert closed["state"] == "closed" and closed["n_summed"] == len(updates), closed
    return rid


def _observed(dep: Any, round_id: int) -> AggregateObservation:
    """What the rule should see for a closed round, recomputed from the two models anyone
    can download: ‖result − start‖₂ and the number of updates summed."""
    with dep.admin() as admin:
        start = admin.model(round_id, "start").astype(np.float64)
        result = admin.model(round_id, "result").astype(np.float64)
        n = admin.status(round_id)["close"]["n_summed"]
    return AggregateObservation(float(np.linalg.norm(result - start)), int(n))


def _rounds_used(cfg: dict[str, Any]) -> list[int]:
    return [o["round_id"] for o in cfg["tau_auto"]["observations"]]


def _post_round(dep: Any, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(dep.aggregator.url + "/v1/rounds", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {dep.token}"})


# -- the rule at the service ----------------------------------------------------------------
def test_first_auto_round_gets_the_rules_start(dep: Any) -> None:
    d = 101  # no round of this size before
    cfg = _open(dep, d, tau="auto")
    assert cfg["tau"] == AdaptiveTau().start == 5.0
    assert cfg["tau_auto"] == {"rule": AdaptiveTau().to_dict(), "observations": [],
                               "tau": 5.0}
    assert cfg["bound"] == int(5.0 * SCALE)
    rule = {"ceiling": 2.0, "initial": 0.75, "window": 3}
    cfg = _open(dep, d, tau="auto", tau_rule=rule)  # the first round failed: still none
    assert cfg["tau"] == 0.75 and cfg["bound"] == int(0.75 * SCALE)
    assert cfg["tau_auto"]["rule"] == AdaptiveTau(**rule).to_dict()
    assert cfg["tau_auto"]["observations"] == []
    # a number τ records nothing
    cfg = _open(dep, d, tau=1.0)
    assert cfg["tau"] == 1.0 and cfg["tau_auto"] is None
    _end_open_round(dep)


def test_auto_tau_follows_the_last_closed_rounds_of_the_same_size(dep: Any,
                                                                   clients: Any) -> None:
    d, other_d = 150, 120
    # round A: three honest updates, numeric τ
    cfg = _open(dep, d, tau=1.0, seed=1)
    round_a = _submit_and_close(dep, clients, cfg, _updates(d, [0.3, 0.2, 0.25], seed=10))
    obs_a = _observed(dep, round_a)
    # a round of another size with large updates: it must not count for d
    cfg = _open(dep, other_d, tau=1.0, seed=2)
    _submit_and_close(dep, clients, cfg, _updates(other_d, [0.95, 0.95], seed=11))

    rule = AdaptiveTau(multiplier=1.5, window=2)
    cfg = _open(dep, d, tau="auto", tau_rule={"multiplier": 1.5, "window": 2}, seed=3)
    expected = rule.next_tau([obs_a])
    assert rule.floor < expected < rule.ceiling  # not clamped: the norm decides
    assert cfg["tau"] == pytest.approx(expected, rel=1e-9)
    assert cfg["bound"] == int(cfg["tau"] * SCALE)
    assert _rounds_used(cfg) == [round_a]
    (recorded,) = cfg["tau_auto"]["observations"]
    assert recorded["n_accepted"] == 3
    assert recorded["mean_update_norm"] == pytest.approx(obs_a.mean_update_norm, rel=1e-9)
    assert cfg["tau_auto"]["tau"] == cfg["tau"]
    # the auto round is an ordinary round: clients use the resolved number — an update of
    # norm 2τ is accepted only because the client clipped it to that τ before proving
    round_b = _submit_and_close(dep, clients, cfg,
                                _updates(d, [0.1, 0.15, 2 * cfg["tau"]], seed=12))
    obs_b = _observed(dep, round_b)

    # window 2: A and B, oldest first; window 1: B only
    cfg = _open(dep, d, tau="auto", tau_rule={"window": 2}, seed=4)
    assert _rounds_used(cfg) == [round_a, round_b]
    assert cfg["tau"] == pytest.approx(AdaptiveTau(window=2).next_tau([obs_a, obs_b]),
                                       rel=1e-9)
    failed = cfg["round_id"]  # closed with no update below: failed, never an observation
    cfg = _open(dep, d, tau="auto", tau_rule={"window": 1}, seed=5)
    assert failed not in _rounds_used(cfg)
    assert _rounds_used(cfg) == [round_b]
    assert cfg["tau"] == pytest.approx(AdaptiveTau(window=1).next_tau([obs_b]), rel=1e-9)

    # recorded in the round: the admin's status and a client's view of the open round
    with dep.admin() as admin:
        status = admin.status(cfg["round_id"])
    assert status["tau"] == cfg["tau"] and status["tau_auto"] == cfg["tau_auto"]
    c = clients.new()
    try:
        current = c.current_round()
    finally:
        c.close()
    assert current["tau"] == cfg["tau"] and current["tau_auto"] == cfg["tau_auto"]

    # a resolved τ that gives B < 1 at this scale: a 422 that says which floor to raise
    _end_open_round(dep)
    model = np.zeros(d, np.float32).tolist()
    r = _post_round(dep, {"tau": "auto", "scale": 8.0, "model": _model_field(model)})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_params"
    assert "tau_rule.floor" in r.json()["detail"] and "scale" in r.json()["detail"]
    r = _post_round(dep, {"tau": "auto", "scale": 8.0, "tau_rule": {"floor": 0.875},
                          "model": _model_field(model)})
    assert r.status_code == 201, r.text  # the advised floor: B = 7 > ρ(150) ≈ 6.1
    _end_open_round(dep)


def _model_field(vector: list[float]) -> dict[str, Any]:
    from zkflpq.protocol import b64e, encode_float_vector

    return {"d": len(vector), "vector": b64e(encode_float_vector(
        np.asarray(vector, dtype=np.float32)))}


# -- malformed requests --------------------------------------------------------------------
@pytest.mark.parametrize(("tau_rule", "named"), [
    ({"multiplier": 0.5}, "multiplier"),
    ({"multiplier": True}, "multiplier"),
    ({"multiplier": "1.5"}, "multiplier"),
    ({"floor": -1}, "floor"),
    ({"ceiling": 1e300}, "ceiling"),
    ({"window": 0}, "window"),
    ({"window": 2.5}, "window"),
    ({"window": True}, "window"),
    ({"initial": 0}, "initial"),
    ({"bogus": 1}, "bogus"),
    ({"rule": "zkflpq-adaptive-tau/v9"}, "rule"),
])
def test_invalid_rule_fields_are_422_naming_the_field(dep: Any, tau_rule: dict[str, Any],
                                                      named: str) -> None:
    r = _post_round(dep, {"tau": "auto", "tau_rule": tau_rule,
                          "model": _model_field([0.0] * 64)})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "malformed"
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "tau_rule", named]]
    assert f"tau_rule.{named}" in r.json()["detail"]


@pytest.mark.parametrize(("tau_rule", "named"), [
    ({"floor": 3.0, "ceiling": 2.0}, "floor must be <= ceiling"),
    ({"initial": 7.0}, "initial must be"),  # above the default ceiling 5
])
def test_inconsistent_rules_are_422_naming_the_field(dep: Any, tau_rule: dict[str, Any],
                                                     named: str) -> None:
    r = _post_round(dep, {"tau": "auto", "tau_rule": tau_rule,
                          "model": _model_field([0.0] * 64)})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "malformed" and named in r.json()["detail"]


def test_tau_rule_needs_tau_auto_and_tau_is_one_field(dep: Any) -> None:
    model = _model_field([0.0] * 64)
    r = _post_round(dep, {"tau": 1.0, "tau_rule": {}, "model": model})
    assert r.status_code == 422 and "tau_rule is only valid with tau" in r.json()["detail"]
    for bad in ("automatic", "AUTO", None, -1, "Infinity"):
        r = _post_round(dep, {"tau": bad, "model": model})
        assert r.status_code == 422, (bad, r.text)
        assert [e["loc"] for e in r.json()["errors"]] == [["body", "tau"]], r.text
        assert "'auto'" in r.json()["detail"]


def test_a_rule_that_can_never_work_is_refused_before_the_history(dep: Any) -> None:
    # ceiling·scale < 1: no τ the rule can give has B ≥ 1
    r = _post_round(dep, {"tau": "auto", "scale": 1.0, "tau_rule": {"ceiling": 0.5},
                          "model": _model_field([0.0] * 64)})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_params" and "tau_rule.ceiling" in r.json()["detail"]
    # floor·scale beyond t/2: every τ ≥ floor is too large
    r = _post_round(dep, {"tau": "auto", "scale": 2.0**52, "tau_rule": {"floor": 1.0},
                          "model": _model_field([0.0] * 64)})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_params" and "tau_rule.floor" in r.json()["detail"]


# -- migration of an old database ------------------------------------------------------------
def _old_schema_round(db: Path, d: int, start: np.ndarray, result: np.ndarray) -> None:
    """Give ``db`` the rounds table of the previous version (no tau_source column) with
    one closed round of size d in it."""
    from services.aggregator.db import Store
    from zkflpq.protocol import encode_float_vector

    store = Store(f"sqlite:///{db}")
    store.create_all()
    store.dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE rounds DROP COLUMN tau_source")
        conn.execute(
            "INSERT INTO rounds (id, state, params_name, tau, scale, bound, d, k, layout, "
            "k_min, opened_at, closed_at, model, model_digest, result_model, result_digest, "
            "n_accepted, close_info) VALUES (1, 'closed', 'x', 1.0, 1024.0, 1024, ?, 3, '', "
            "2, 1.0, 2.0, ?, 'aa', ?, 'bb', 4, ?)",
            (d, encode_float_vector(start), encode_float_vector(result),
             json.dumps({"n_summed": 4})))
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(rounds)")}
    assert "tau_source" not in columns


def test_store_adds_the_column_to_an_old_sqlite_database(tmp_path: Path) -> None:
    from services.aggregator.db import Store

    db = tmp_path / "old.sqlite3"
    _old_schema_round(db, 10, np.zeros(10, np.float32), np.full(10, 0.1, np.float32))
    store = Store(f"sqlite:///{db}")
    try:
        assert store.add_missing_columns() == ["rounds.tau_source"]
        assert store.add_missing_columns() == []  # idempotent
        old = store.get_round(1)
        assert old is not None and old.tau_source is None and old.public()["tau_auto"] is None
        assert store.closed_rounds_of_size(10, 5) == [(1, 4)]
    finally:
        store.dispose()


def test_aggregator_starts_on_an_old_database_and_uses_its_rounds(tmp_path: Path) -> None:
    d = 64
    start = np.zeros(d, np.float32)
    result = np.random.default_rng(7).normal(size=d).astype(np.float32) * 0.01
    agg_dir = tmp_path / "aggregator"
    agg_dir.mkdir()
    _old_schema_round(agg_dir / "aggregator.sqlite3", d, start, result)
    old_dep = start_deployment(tmp_path)
    try:
        with old_dep.admin() as admin:
            assert admin.status(1)["tau_auto"] is None  # the old round reads back
            cfg = admin.open_round(tau="auto", scale=SCALE, model=start)
        obs = AggregateObservation(float(np.linalg.norm(result.astype(np.float64))), 4)
        assert cfg["round_id"] == 2 and _rounds_used(cfg) == [1]
        assert cfg["tau"] == pytest.approx(AdaptiveTau().next_tau([obs]), rel=1e-9)
    finally:
        old_dep.stop()


@pytest.mark.postgres
@pytest.mark.skipif(postgres_url() is None, reason="ZKFLPQ_TEST_POSTGRES_URL not set")
def test_store_adds_the_column_to_an_old_postgres_database() -> None:
    from sqlalchemy import text

    from services.aggregator.db import Store

    url, drop = fresh_postgres_database(postgres_url() or "")
    store = Store(url)
    try:
        store.create_all()
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE rounds DROP COLUMN tau_source"))
        assert "tau_source" not in store._column_names("rounds")
        store.create_all()
        assert "tau_source" in store._column_names("rounds")
        info = store.open_round(params_name="x", tau=0.5, scale=1024.0, bound=512, d=4, k=1,
                                layout="", k_min=2, deadline=None, model=bytes(16),
                                model_digest="aa", tau_source={"tau": 0.5})
        got = store.get_round(info.id)
        assert got is not None and got.public()["tau_auto"] == {"tau": 0.5}
    finally:
        store.dispose()
        drop()


# -- the command line ----------------------------------------------------------------------
def _admin_args(dep: Any, tmp_path: Path, *args: str) -> list[str]:
    token = tmp_path / "admin.token"
    token.write_text(dep.token + "\n")
    return ["admin", "--aggregator-url", dep.aggregator.url, "--token-file", str(token),
            *args]


def test_cli_open_round_tau_auto(dep: Any, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    d = 77  # no round of this size before
    npy = tmp_path / "model.npy"
    np.save(npy, np.zeros(d, np.float32))
    _end_open_round(dep)
    rc = main(_admin_args(dep, tmp_path, "open-round", "--tau", "auto", "--tau-ceiling", "2",
                          "--tau-initial", "0.5", "--tau-window", "3", "--model-npy",
                          str(npy)))
    out = capsys.readouterr().out
    assert rc == 0, out
    cfg = json.loads(out)
    assert cfg["tau"] == 0.5
    assert cfg["tau_auto"]["rule"] == AdaptiveTau(ceiling=2.0, initial=0.5,
                                                  window=3).to_dict()
    # `admin status` shows τ, the rule and the observations
    assert main(_admin_args(dep, tmp_path, "status")) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["round_id"] == cfg["round_id"] and status["tau"] == 0.5
    assert status["tau_auto"] == cfg["tau_auto"]
    _end_open_round(dep)

    # a value the aggregator refuses: one line naming the field, exit 1
    rc = main(_admin_args(dep, tmp_path, "open-round", "--tau", "auto", "--tau-multiplier",
                          "0.5", "--model-npy", str(npy)))
    err = capsys.readouterr().err
    assert rc == 1 and "422 malformed" in err and "tau_rule.multiplier" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [
    ["--tau", "1", "--tau-floor", "0.1"],
    ["--tau-window", "2"],  # the default τ is a number too
    ["--tau", "often"],
    ["--tau", "auto", "--tau-window", "two"],
])
def test_cli_usage_errors_exit_2(dep: Any, tmp_path: Path, args: list[str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(_admin_args(dep, tmp_path, "open-round", *args, "--mlp", "4,2"))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--tau" in err and "Traceback" not in err
