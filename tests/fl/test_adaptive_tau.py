"""The adaptive norm bound rule zkflpq-adaptive-tau/v1 (zkflpq.fl.adaptive_tau): worked
values, the properties the aggregator service relies on (always within [floor, ceiling],
monotone in each observed norm, only the last `window` rounds count, the start value
without history), the JSON round trip and its strict refusals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkflpq.fl.adaptive_tau import RULE_ID, AdaptiveTau, AggregateObservation

# -- strategies -------------------------------------------------------------------------
norms = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=1, max_value=10_000)
observations = st.builds(AggregateObservation, norms, counts)
histories = st.lists(observations, max_size=12)


@st.composite
def rules(draw: st.DrawFn) -> AdaptiveTau:
    floor = draw(st.floats(min_value=1e-6, max_value=1e3, allow_nan=False))
    ceiling = draw(st.floats(min_value=floor, max_value=1e4, allow_nan=False))
    initial = draw(st.none() | st.floats(min_value=floor, max_value=ceiling, allow_nan=False))
    return AdaptiveTau(multiplier=draw(st.floats(min_value=1.0, max_value=100.0)),
                       floor=floor, ceiling=ceiling,
                       window=draw(st.integers(min_value=1, max_value=8)), initial=initial)


# -- worked values ------------------------------------------------------------------------
def test_defaults_and_start() -> None:
    # the documented defaults (docs/services.md, the aggregator's tau_rule defaults)
    rule = AdaptiveTau()
    assert (rule.multiplier, rule.floor, rule.ceiling, rule.window, rule.initial) == \
        (1.5, 0.01, 5.0, 1, None)
    assert rule.start == 5.0 and rule.next_tau([]) == 5.0
    assert AdaptiveTau(initial=0.5).start == 0.5 == AdaptiveTau(initial=0.5).next_tau([])


def test_formula_on_a_worked_example() -> None:
    # 4 updates: sqrt(4)·0.1 = 0.2; 9 updates: sqrt(9)·0.05 = 0.15 → max 0.2, × 1.5 = 0.3
    history = [AggregateObservation(0.1, 4), AggregateObservation(0.05, 9)]
    assert AdaptiveTau(window=2).next_tau(history) == pytest.approx(0.3, rel=1e-15)
    # window 1: the last round only → 1.5 · 0.15
    assert AdaptiveTau(window=1).next_tau(history) == pytest.approx(0.225, rel=1e-15)


def test_floor_and_ceiling_clamp() -> None:
    assert AdaptiveTau(floor=0.5).next_tau([AggregateObservation(0.0, 3)]) == 0.5
    assert AdaptiveTau(ceiling=2.0).next_tau([AggregateObservation(100.0, 3)]) == 2.0


def test_orthogonal_updates_estimate_the_update_norm() -> None:
    # K orthogonal updates of norm ν: ‖mean‖ = ν/sqrt(K), so sqrt(K)·‖mean‖ = ν exactly.
    k, nu = 16, 0.3
    updates = np.eye(k) * nu
    mean_norm = float(np.linalg.norm(updates.mean(axis=0)))
    rule = AdaptiveTau(multiplier=1.0)
    assert rule.next_tau([AggregateObservation(mean_norm, k)]) == pytest.approx(nu, rel=1e-12)


# -- properties ---------------------------------------------------------------------------
@given(rules(), histories)
def test_result_is_within_floor_and_ceiling(rule: AdaptiveTau,
                                            history: list[AggregateObservation]) -> None:
    tau = rule.next_tau(history)
    assert rule.floor <= tau <= rule.ceiling
    assert isinstance(tau, float) and math.isfinite(tau)


@given(rules(), st.lists(observations, min_size=1, max_size=12), st.data())
def test_monotone_non_decreasing_in_each_observed_norm(
        rule: AdaptiveTau, history: list[AggregateObservation], data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(history) - 1))
    larger = data.draw(st.floats(min_value=history[i].mean_update_norm, max_value=2e6,
                                 allow_nan=False))
    raised = list(history)
    raised[i] = AggregateObservation(larger, history[i].n_accepted)
    assert rule.next_tau(raised) >= rule.next_tau(history)


@given(rules(), histories, histories, st.data())
def test_only_the_last_window_observations_matter(
        rule: AdaptiveTau, older_a: list[AggregateObservation],
        older_b: list[AggregateObservation], data: st.DataObject) -> None:
    tail = data.draw(st.lists(observations, min_size=rule.window, max_size=rule.window + 4))
    # whatever came before the last `window` rounds, the result is that of those rounds
    assert rule.next_tau(older_a + tail) == rule.next_tau(older_b + tail) \
        == rule.next_tau(tail[-rule.window:])
    # ...and the history is read oldest first: the window is its end, not its start
    assert rule.next_tau(tail) == rule.next_tau(tail[len(tail) - rule.window:])


@given(rules())
def test_no_history_gives_the_start(rule: AdaptiveTau) -> None:
    assert rule.next_tau([]) == rule.start == (rule.ceiling if rule.initial is None
                                                else rule.initial)
    assert rule.next_tau(iter([])) == rule.start  # any iterable


@given(rules())
def test_json_round_trip(rule: AdaptiveTau) -> None:
    import json

    doc = rule.to_dict()
    assert doc["rule"] == RULE_ID
    assert AdaptiveTau.from_dict(doc) == rule
    assert AdaptiveTau.from_dict(json.loads(json.dumps(doc))) == rule


def test_from_dict_without_rule_id_takes_the_defaults() -> None:
    assert AdaptiveTau.from_dict({}) == AdaptiveTau()
    assert AdaptiveTau.from_dict({"window": 3}) == AdaptiveTau(window=3)


# -- strict refusals ----------------------------------------------------------------------
@pytest.mark.parametrize(("fields", "named"), [
    ({"multiplier": 0.5}, "multiplier"),
    ({"multiplier": 0}, "multiplier"),
    ({"multiplier": math.inf}, "multiplier"),
    ({"floor": -1.0}, "floor"),
    ({"floor": math.nan}, "floor"),
    ({"ceiling": 0.0}, "ceiling"),
    ({"floor": 3.0, "ceiling": 2.0}, "floor"),
    ({"window": 0}, "window"),
    ({"window": 1.5}, "window"),
    ({"window": "2"}, "window"),
    ({"initial": 10.0}, "initial"),  # above the default ceiling
    ({"initial": 0.001}, "initial"),  # below the default floor
    ({"initial": math.inf}, "initial"),
    ({"multiplier": "1.5"}, "multiplier"),
])
def test_bad_values_are_refused_naming_the_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        AdaptiveTau(**fields)
    with pytest.raises(ValueError, match=named):
        AdaptiveTau.from_dict(fields)


@pytest.mark.parametrize("field", ["multiplier", "floor", "ceiling", "window", "initial"])
def test_bools_are_not_numbers(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        AdaptiveTau.from_dict({field: True})


def test_unknown_keys_and_rule_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown τ rule field.*tighten"):
        AdaptiveTau.from_dict({"tighten": 2})
    with pytest.raises(ValueError, match="unknown τ rule field"):
        AdaptiveTau.from_dict({1: 2})  # a non-string key: still a ValueError
    with pytest.raises(ValueError, match="unknown τ rule 'zkflpq-adaptive-tau/v2'"):
        AdaptiveTau.from_dict({"rule": "zkflpq-adaptive-tau/v2"})
    for not_an_object in ([], "rule", None, 3):
        with pytest.raises(ValueError, match="must be an object"):
            AdaptiveTau.from_dict(not_an_object)  # type: ignore[arg-type]


@pytest.mark.parametrize(("norm", "k", "named"), [
    (-0.1, 3, "mean_update_norm"),
    (math.nan, 3, "mean_update_norm"),
    (math.inf, 3, "mean_update_norm"),
    (True, 3, "mean_update_norm"),
    ("0.1", 3, "mean_update_norm"),
    (0.1, 0, "n_accepted"),
    (0.1, 2.5, "n_accepted"),
    (0.1, math.inf, "n_accepted"),
    (0.1, math.nan, "n_accepted"),
    (0.1, True, "n_accepted"),
    (0.1, "3", "n_accepted"),
])
def test_bad_observations_are_value_errors(norm: Any, k: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        AggregateObservation(norm, k)


def test_numpy_scalars_are_observations() -> None:
    # what an experiment computes (np.linalg.norm, len of an array) is accepted as is
    obs = AggregateObservation(np.float32(0.2), np.int64(4))
    assert AdaptiveTau(multiplier=1.0).next_tau([obs]) == pytest.approx(0.4, rel=1e-6)
