"""Operator mistakes on the command line: one line on stderr, no traceback, a non-zero
exit status — checked before any network traffic (nothing listens on the URLs here)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zkflpq.cli import main
from zkflpq.commands._errors import EXIT_REFUSED, CliError, describe

NOWHERE = "http://127.0.0.1:9"  # discard port: never contacted by these tests


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, rc: int,
                    *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("ZKFLPQ_ADMIN_TOKEN", "ZKFLPQ_AGGREGATOR_URL", "ZKFLPQ_KEY_AUTHORITY_URL"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("h1")
    assert main(["client", "keygen", "--out", str(out)]) == 0
    return out / "client.sig"


def _bad_npz(tmp: Path) -> dict[str, Path]:
    files = {}
    files["wrong_keys"] = tmp / "wrong_keys.npz"
    np.savez(files["wrong_keys"], features=np.zeros((3, 4)), labels=np.zeros(3, int))
    files["one_dim"] = tmp / "one_dim.npz"
    np.savez(files["one_dim"], X=np.zeros(5), y=np.zeros(5, int))
    files["float_labels"] = tmp / "float_labels.npz"
    np.savez(files["float_labels"], X=np.zeros((3, 4)), y=np.zeros(3))
    files["length"] = tmp / "length.npz"
    np.savez(files["length"], X=np.zeros((3, 4)), y=np.zeros(2, int))
    files["nan"] = tmp / "nan.npz"
    np.savez(files["nan"], X=np.full((3, 4), np.nan), y=np.zeros(3, int))
    files["negative"] = tmp / "negative.npz"
    np.savez(files["negative"], X=np.zeros((3, 4)), y=-np.ones(3, int))
    files["npy"] = tmp / "array.npy"
    np.save(files["npy"], np.zeros((3, 4)))
    files["text"] = tmp / "text.npz"
    files["text"].write_text("X,y\n1,2\n")
    files["empty"] = tmp / "empty.npz"
    np.savez(files["empty"], X=np.zeros((0, 4)), y=np.zeros(0, int))
    return files


BAD_SPECS = ["synthetic:", "synthetic:a/b", "synthetic:5/5", "synthetic:0/0",
             "synthetic:-1/5", "synthetic:1", "synthetic:1/2/3", "no/such/file.npz", "."]


@pytest.mark.parametrize("spec", BAD_SPECS)
def test_bad_data_spec_is_one_line(spec: str, key: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["client", "run", "--aggregator-url", NOWHERE, "--key", str(key),
               "--data", spec, "--no-progress"])
    _one_line_error(capsys, 1, rc, "--data")


def test_bad_data_files_are_one_line(key: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    for name, path in _bad_npz(tmp_path).items():
        rc = main(["client", "run", "--aggregator-url", NOWHERE, "--key", str(key),
                   "--data", str(path), "--no-progress"])
        err = _one_line_error(capsys, 1, rc, "--data", str(path))
        if name == "wrong_keys":
            assert "needs X" in err and "features" in err


def test_data_is_required(key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["client", "run", "--aggregator-url", NOWHERE, "--key", str(key)])
    assert exc.value.code == 2 and "--data" in capsys.readouterr().err


def test_feature_count_mismatch_names_the_features(tmp_path: Path) -> None:
    from zkflpq.commands.client import _check_data, load_dataset
    from zkflpq.fl import layout_to_json, make_mlp, model_layout

    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((4, 100), np.float32), y=np.array([0, 1, 2, 3]))
    cfg = {"round_id": 2, "layout": layout_to_json(model_layout(make_mlp(784, [16], 4)))}
    with pytest.raises(CliError, match=r"100 features per sample, but round 2's model takes "
                                       r"784 \(MLP 784-16-4\)"):
        _check_data(load_dataset(str(path), 4), str(path), cfg)
    np.savez(path, X=np.zeros((4, 784), np.float32), y=np.array([0, 1, 2, 7]))
    with pytest.raises(CliError, match="4 classes"):
        load_dataset(str(path), 4)
    ok = load_dataset("synthetic:1/5")
    assert _check_data(ok, "synthetic:1/5", cfg) == (16,)


def test_bad_key_file_is_one_line(key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["client", "run", "--aggregator-url", NOWHERE, "--key",
               str(key.with_name("client.sig.pub")), "--data", "synthetic:0/5"])
    _one_line_error(capsys, 1, rc, "--key")
    rc = main(["client", "run", "--aggregator-url", NOWHERE, "--key",
               str(key.with_name("missing.sig")), "--data", "synthetic:0/5"])
    _one_line_error(capsys, 1, rc, "missing.sig")


def test_keygen_refuses_to_overwrite(key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = key.read_bytes()
    rc = main(["client", "keygen", "--out", str(key.parent)])
    _one_line_error(capsys, 1, rc, "already exists", "refusing to overwrite")
    assert key.read_bytes() == before


def test_key_authority_init_twice_and_unknown_params(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ka = tmp_path / "ka"
    assert main(["key-authority", "init", "--data-dir", str(ka), "--params",
                 "INSECURE-bfv3-n64-q81-t34-l3"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["admin_token_file"] == str(ka / "admin.token")
    sk = (ka / "bfv.sk").read_bytes()
    rc = main(["key-authority", "init", "--data-dir", str(ka)])
    _one_line_error(capsys, 1, rc, "already an initialised key authority")
    assert (ka / "bfv.sk").read_bytes() == sk
    rc = main(["key-authority", "init", "--data-dir", str(tmp_path / "k2"), "--params", "nope"])
    _one_line_error(capsys, 1, rc, "unknown parameter set", "zkflpq params")
    assert not (tmp_path / "k2" / "bfv.sk").exists()


def test_key_authority_serve_uninitialised(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["key-authority", "serve", "--data-dir", str(tmp_path / "none")])
    _one_line_error(capsys, 1, rc, "not an initialised key authority", "key-authority init")


def test_aggregator_init_creates_and_prints_its_token(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert main(["aggregator", "init", "--data-dir", str(tmp_path / "agg")]) == 0
    info = json.loads(capsys.readouterr().out)
    token_file = Path(info["admin_token_file"])
    assert token_file.read_text().strip() and token_file.stat().st_mode & 0o077 == 0
    token = token_file.read_text()
    assert main(["aggregator", "init", "--data-dir", str(tmp_path / "agg")]) == 0
    assert token_file.read_text() == token  # kept, not regenerated


def test_admin_without_url_or_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["admin", "status"])
    _one_line_error(capsys, 1, rc, "no service URL", "--aggregator-url")
    rc = main(["admin", "--aggregator-url", NOWHERE, "status"])
    _one_line_error(capsys, 1, rc, "no admin token", "--token-file")
    rc = main(["admin", "--aggregator-url", NOWHERE, "--token-file",
               str(tmp_path / "missing.token"), "status"])
    _one_line_error(capsys, 1, rc, "missing.token")
    (tmp_path / "empty.token").write_text("\n")
    rc = main(["admin", "--aggregator-url", NOWHERE, "--token-file",
               str(tmp_path / "empty.token"), "status"])
    _one_line_error(capsys, 1, rc, "is empty")


@pytest.mark.parametrize("mlp", ["a,b", "784", "784,,4", "784,0,4"])
def test_admin_bad_mlp(mlp: str, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZKFLPQ_ADMIN_TOKEN", "t")
    rc = main(["admin", "--aggregator-url", NOWHERE, "open-round", "--mlp", mlp])
    _one_line_error(capsys, 1, rc, "--mlp")


def test_admin_enrol_bad_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZKFLPQ_ADMIN_TOKEN", "t")
    (tmp_path / "junk.pub").write_text("not a key")
    rc = main(["admin", "--aggregator-url", NOWHERE, "enrol", str(tmp_path / "junk.pub")])
    _one_line_error(capsys, 1, rc, "junk.pub")


def test_unreachable_service_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZKFLPQ_ADMIN_TOKEN", "t")
    rc = main(["admin", "--aggregator-url", NOWHERE, "status"])
    _one_line_error(capsys, 1, rc, "the aggregator at http://127.0.0.1:9", "unreachable")


def test_client_exit_status_3_when_an_update_is_refused(
        key: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A 409 duplicate (or any refusal) is not success for a scheduler."""
    from zkflpq.agent import AggregatorClient, ClientAgent, RoundReport, SubmissionResult

    monkeypatch.setattr(AggregatorClient, "params", lambda self, refresh=False: None)
    monkeypatch.setattr(AggregatorClient, "current_round",
                        lambda self: {"round_id": 1, "k_min": 2, "deadline": None})

    def refused(self: Any, cfg: Any) -> RoundReport:
        return RoundReport(1, "c", SubmissionResult(409, "rejected", "duplicate", "dup", {},
                                                    1, 0.1), 1.0, 1.0)

    monkeypatch.setattr(ClientAgent, "run_round", refused)
    rc = main(["client", "run", "--aggregator-url", NOWHERE, "--key", str(key),
               "--data", "synthetic:0/5", "--no-progress"])
    out = json.loads(capsys.readouterr().out.strip())
    assert rc == EXIT_REFUSED and out["reason"] == "duplicate" and out["status"] == 409


def test_bugs_keep_their_traceback() -> None:
    assert describe(RuntimeError("bug")) is None
    assert describe(CliError("x", 3)) == ("x", 3)


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    import zkflpq.commands.client as client_cmd

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(client_cmd, "_keygen", interrupted)
    rc = main(["client", "keygen", "--out", "x"])
    _one_line_error(capsys, 130, rc, "interrupted")
