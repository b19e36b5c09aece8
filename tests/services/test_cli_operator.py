"""The command line against running services: what an operator sees when something is
wrong (wrong URL, no round, wrong token, past deadline, duplicate, failed close) — one
line on stderr, a stated wait, the service named, a non-zero exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from svc_helpers import start_deployment

from zkflpq.cli import main

PARAMS = "INSECURE-bfv3-n256-q81-t34-l4"
MLP = "784,2,4"  # 1,582 parameters: 7 chunks of N = 256


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("operator")
    dep = start_deployment(root, params=PARAMS)
    token = root / "admin.token"
    token.write_text(dep.token + "\n")
    bad = root / "wrong.token"
    bad.write_text("not-the-token\n")
    keys = []
    for i in range(3):
        out = root / f"h{i}"
        assert main(["client", "keygen", "--out", str(out)]) == 0
        keys.append(out / "client.sig")
    try:
        yield {"dep": dep, "root": root, "token": token, "bad": bad, "keys": keys,
               "agg": dep.aggregator.url, "ka": dep.ka.url}
    finally:
        dep.stop()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("ZKFLPQ_ADMIN_TOKEN", "ZKFLPQ_AGGREGATOR_URL", "ZKFLPQ_KEY_AUTHORITY_URL"):
        monkeypatch.delenv(k, raising=False)


def _admin(op: dict[str, Any], *args: str, token: Path | None = None,
           ka_token: Path | None = None) -> list[str]:
    return ["admin", "--aggregator-url", op["agg"], "--key-authority-url", op["ka"],
            "--token-file", str(token or op["token"]),
            "--key-authority-token-file", str(ka_token or op["token"]), *args]


def _client(op: dict[str, Any], i: int, *args: str, url: str | None = None) -> list[str]:
    return ["client", "run", "--aggregator-url", url or op["agg"], "--key",
            str(op["keys"][i]), "--data", f"synthetic:{i}/5", "--no-progress", "--epochs", "1",
            "--poll-s", "0.2", *args]


def _err(capsys: pytest.CaptureFixture[str], rc: int, code: int, *needles: str) -> str:
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert rc == code, (cap.out, err)
    assert "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def _enrol(op: dict[str, Any], i: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_admin(op, "enrol", str(op["keys"][i].with_name("client.sig.pub")))) == 0
    capsys.readouterr()


def _close_open_round(op: dict[str, Any]) -> None:
    with op["dep"].admin() as admin:
        st = admin.status()
        if st.get("state") not in ("none", None):
            try:
                admin.close_round(st["round_id"])
            except Exception:  # noqa: BLE001 - too few updates: the round still ends
                pass


def test_wrong_urls_are_named(op: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(_client(op, 0, url=op["agg"] + "/v1"))
    err = _err(capsys, rc, 1, "wrong_url", "without the trailing /v1")
    assert len(err.splitlines()) == 1
    rc = main(_client(op, 0, url=op["ka"]))
    _err(capsys, rc, 1, "is the key authority, not the aggregator")
    rc = main(_client(op, 0, url=op["agg"] + "/elsewhere"))
    _err(capsys, rc, 1, "wrong_url", "base URL")


def test_token_mismatch_names_the_service_and_enrols_nowhere(
        op: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    pub = str(op["keys"][2].with_name("client.sig.pub"))
    rc = main(_admin(op, "enrol", pub, token=op["bad"]))
    _err(capsys, rc, 1, f"the aggregator at {op['agg']} answered 403", "invalid admin token",
         "--token-file")
    rc = main(_admin(op, "enrol", pub, ka_token=op["bad"]))
    _err(capsys, rc, 1, f"the key authority at {op['ka']} answered 403",
         "--key-authority-token-file")
    # The preflight refused before anything changed: enrolled at neither service.
    from zkflpq.pq import VerifyKey, load_key
    from zkflpq.protocol import client_id_for

    headers = {"Authorization": f"Bearer {op['dep'].token}"}

    cid = client_id_for(load_key(pub, VerifyKey))
    listed = httpx.get(f"{op['agg']}/v1/clients", headers=headers).json()
    assert cid not in {c["client_id"] for c in listed}


def test_no_token_and_field_errors(op: dict[str, Any],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    r = httpx.get(f"{op['agg']}/v1/rounds/current")
    assert r.status_code == 401 and "admin bearer token" in r.json()["detail"]
    rc = main(_admin(op, "open-round", "--tau", "-1", "--mlp", MLP))
    _err(capsys, rc, 1, "422 malformed", "tau")
    rc = main(_admin(op, "open-round", "--k-min", "0", "--mlp", MLP))
    _err(capsys, rc, 1, "422 malformed", "k_min")


def test_no_open_round_gives_up_after_the_stated_time(
        op: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    _close_open_round(op)
    _enrol(op, 0, capsys)
    t0 = time.monotonic()
    rc = main(_client(op, 0, "--wait-s", "1"))
    err = _err(capsys, rc, 1, "no round is open", "waiting up to 1 s",
               "gave up after", "--wait")
    assert time.monotonic() - t0 < 30
    assert err.splitlines()[-1].startswith("zkflpq client: no round is open at ")


def test_deadline_passed_is_shown_and_skipped_before_training(
        op: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    _close_open_round(op)
    _enrol(op, 0, capsys)
    assert main(_admin(op, "open-round", "--mlp", MLP, "--deadline-s", "0.5",
                       "--k-min", "2")) == 0
    rid = json.loads(capsys.readouterr().out)["round_id"]
    time.sleep(1.0)
    assert main(_admin(op, "status")) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["round_id"] == rid and st["state"] == "deadline_passed"
    assert st["accepting_updates"] is False and "accepted" in st
    rc = main(_client(op, 0, "--wait-s", "0.5"))
    _err(capsys, rc, 1, f"round {rid}'s deadline has passed", "gave up")
    rc = main(_admin(op, "close-round", str(rid)))
    cap = capsys.readouterr()
    assert rc == 3 and json.loads(cap.out)["state"] == "failed"
    assert f"round {rid} failed" in cap.err


def test_round_accepted_duplicate_skipped_model_evaluated(
        op: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    _close_open_round(op)
    for i in (0, 1):
        _enrol(op, i, capsys)
    assert main(_admin(op, "open-round", "--mlp", MLP, "--k-min", "2", "--tau", "5")) == 0
    rid = json.loads(capsys.readouterr().out)["round_id"]
    for i in (0, 1):
        args = _client(op, i)
        if i == 1:  # with progress: stderr is not a terminal here, so one line per phase
            args.remove("--no-progress")
        rc = main(args)
        cap = capsys.readouterr()
        assert rc == 0, cap.err
        assert json.loads(cap.out.strip().splitlines()[-1])["verdict"] == "accepted"
        phases = [ln for ln in cap.err.splitlines() if f"round {rid}: " in ln]
        if i == 1:
            assert [p.split(": ", 1)[1].split(" (+")[0] for p in phases] == [
                "download model", "train", "quantise, encrypt, prove", "sign, seal, submit"]
        else:
            assert phases == []
    # The same client again: it is told before training, and gives up on time.
    rc = main(_client(op, 0, "--wait-s", "0.5"))
    _err(capsys, rc, 1, f"update for round {rid} was already accepted")
    assert main(_admin(op, "status")) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["accepted"] == 2 and st["state"] == "open"
    assert main(_admin(op, "close-round", str(rid))) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "closed"
    out = op["root"] / "model.npy"
    assert main(_admin(op, "model", str(rid), "--out", str(out), "--evaluate",
                       "synthetic")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["d"] == 1582 and 0.0 <= doc["accuracy"] <= 1.0 and out.exists()


def test_aggregator_without_key_authority_exits_in_one_line(tmp_path: Path) -> None:
    """As a separate process: a bounded, reported wait, then a one-line error."""
    from services.common.launch import free_port

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("ZKFLPQ_")}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "zkflpq.cli", "aggregator", "serve",
                        "--data-dir", str(tmp_path / "agg"), "--port", str(free_port()),
                        "--key-authority-url", f"http://127.0.0.1:{free_port()}",
                        "--key-authority-wait-s", "6"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("zkflpq aggregator: no key authority at"), r.stderr
    assert "start the key authority first" in lines[-1]
    assert any("waiting for the key authority" in ln for ln in lines), r.stderr
    assert any("no admin token configured: generated one" in ln for ln in lines), r.stderr
    assert time.monotonic() - t0 < 60
