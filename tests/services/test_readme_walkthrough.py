"""The README's "Running the services" block, run as written.

Every line is its own process (the README says: each in its own shell), with no
``ZKFLPQ_*`` variable and nothing shared but the working directory; only the ports are
replaced by free ones. Servers are started in the background, the three hospitals run
concurrently, everything else must exit 0. Default (128-bit) parameter set, as written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
STEP_TIMEOUT_S = 600


def walkthrough_lines(text: str) -> list[str]:
    """Command lines of the first code block after '### Running the services'."""
    section = text.split("### Running the services", 1)[1]
    block = section.split("```", 2)[1]
    lines = [ln.strip() for ln in block.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _argv(line: str) -> list[str]:
    words = shlex.split(line)
    assert words[0] == "zkflpq", line
    exe = shutil.which("zkflpq")
    return ([exe] if exe else [sys.executable, "-m", "zkflpq.cli"]) + words[1:]


def _env() -> dict[str, str]:
    # A fresh shell: nothing of ours (tokens, URLs, data dirs) carries over.
    return {k: v for k, v in os.environ.items() if not k.startswith("ZKFLPQ_")}


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import time

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy:\n{log.read_text()[-3000:]}")


def test_readme_block_is_parsed() -> None:
    lines = walkthrough_lines(README.read_text())
    assert sum("serve" in ln.split()[:3] for ln in lines) == 2
    assert sum(ln.startswith("zkflpq client run") for ln in lines) == 3
    assert all(ln.startswith("zkflpq ") for ln in lines)


@pytest.mark.timeout(1500)
def test_readme_services_walkthrough(tmp_path: Path) -> None:
    from services.common.launch import free_port

    ports = {"8000": str(free_port()), "8001": str(free_port())}
    lines = [re.sub(r"\b(8000|8001)\b", lambda m: ports[m.group(1)], ln)
             for ln in walkthrough_lines(README.read_text())]
    servers: list[subprocess.Popen[bytes]] = []
    outputs: dict[str, str] = {}
    try:
        pending_clients: list[tuple[str, subprocess.Popen[bytes]]] = []
        for i, line in enumerate(lines):
            argv = _argv(line)
            if shlex.split(line)[2] == "serve":
                log = tmp_path / f"server-{i}.log"
                with open(log, "wb") as fh:
                    proc = subprocess.Popen(argv, cwd=tmp_path, env=_env(), stdout=fh,
                                            stderr=subprocess.STDOUT, start_new_session=True)
                servers.append(proc)
                port = line.split("--port", 1)[1].split()[0]
                _wait_healthy(f"http://127.0.0.1:{port}", proc, log)
                continue
            if line.startswith("zkflpq client run"):
                pending_clients.append((line, subprocess.Popen(
                    argv, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)))
                continue
            for cline, proc in pending_clients:  # the hospitals' shells finish first
                out, err = proc.communicate(timeout=STEP_TIMEOUT_S)
                assert proc.returncode == 0, f"{cline}\n{err.decode()[-3000:]}"
                report = json.loads(out.decode().strip().splitlines()[-1])
                assert report["verdict"] == "accepted", report
            pending_clients = []
            r = subprocess.run(argv, cwd=tmp_path, env=_env(), capture_output=True,
                               timeout=STEP_TIMEOUT_S)
            assert r.returncode == 0, f"{line}\n{r.stderr.decode()[-3000:]}"
            outputs[line] = r.stdout.decode()
        closed = json.loads(next(v for k, v in outputs.items() if "close-round" in k))
        assert closed["state"] == "closed" and closed["n_summed"] == 3
        status = json.loads(next(v for k, v in outputs.items() if " status " in k))
        assert status["accepted"] == 3 and status["state"] == "closed"
        model = json.loads(next(v for k, v in outputs.items() if " model " in k))
        assert 0.0 <= model["accuracy"] <= 1.0 and (tmp_path / "model.npy").exists()
    finally:
        for proc in servers:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in servers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
