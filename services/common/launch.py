"""Start the services as real processes on loopback (demo, tests, benchmark).

:class:`LocalDeployment` initialises a key authority, starts it and an aggregator with
``python -m zkflpq.cli … serve`` (uvicorn) on free ports, registers the aggregator's
signing key at the key authority, and hands out an :class:`~zkflpq.agent.AdminClient`.
Service logs go to files in the deployment directory. With ``tls=(certificate, key)``
both services serve HTTPS with that certificate (it must name 127.0.0.1), which every
client here — the aggregator's key-authority client included — trusts.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from zkflpq.agent.transport import tls_verify

__all__ = ["LocalDeployment", "ServiceProcess", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    args: list[str]
    port: int
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    ca_file: Path | None = None  # the service serves HTTPS with a certificate trusted by this

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self.port}"

    def verify(self) -> ssl.SSLContext | bool:
        """httpx ``verify=`` for this service."""
        return tls_verify(str(self.ca_file) if self.ca_file else True)

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)
        log.close()
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        verify = self.verify()
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log:\n"
                                   + self.tail())
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2.0,
                             verify=verify).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout} s; log:\n" + self.tail())

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and its verification workers)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "zkflpq.cli", *args]


@dataclass
class LocalDeployment:
    """Key authority + aggregator processes on loopback, sharing an admin token."""

    root: Path
    params: str = "default"
    kem: str = "xwing"
    verify_workers: int = 2
    verify_queue: int = 8
    verify_executor: str = "process"
    max_body_bytes: int | None = None
    database_url: str | None = None
    min_clients: int = 2
    with_aggregator: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None  # (certificate, key) PEM: both services serve HTTPS
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ka: ServiceProcess | None = None
    aggregators: list[ServiceProcess] = field(default_factory=list)
    aggregator_id: str | None = None

    @property
    def ka_dir(self) -> Path:
        return self.root / "key-authority"

    @property
    def agg_dir(self) -> Path:
        return self.root / "aggregator"

    @property
    def aggregator(self) -> ServiceProcess:
        return self.aggregators[0]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZKFLPQ_")}
        env.update({"ZKFLPQ_ADMIN_TOKEN": self.token, "ZKFLPQ_LOG_JSON": "true",
                    "PYTHONUNBUFFERED": "1"})
        if self.tls is not None:
            cert, key = (str(Path(p).resolve()) for p in self.tls)
            # Self-signed: the certificate is its own CA, which the aggregator must trust
            # to reach the key authority.
            env.update({"ZKFLPQ_TLS_CERTFILE": cert, "ZKFLPQ_TLS_KEYFILE": key,
                        "ZKFLPQ_KEY_AUTHORITY_CA_FILE": cert})
        env.update(self.extra_env)
        repo = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"]
                                    if env.get("PYTHONPATH") else "")
        return env

    def start(self) -> LocalDeployment:
        from services.key_authority.service import init_key_authority
        from zkflpq.bfv import DEFAULT

        name = DEFAULT.name if self.params == "default" else self.params
        if not (self.ka_dir / "bfv.sk").exists():
            init_key_authority(self.ka_dir, name, self.kem, admin=self.token)
        ka_port = free_port()
        self.ka = ServiceProcess("key-authority", _cli(
            "key-authority", "serve", "--data-dir", str(self.ka_dir), "--port", str(ka_port),
            "--min-clients", str(self.min_clients), "--kem", self.kem),
            ka_port, self.root / "key-authority.log", self.env(), ca_file=self._ca()).start()
        # Aggregator keys first, so its signing key can be enrolled at the key authority;
        # the aggregator starts meanwhile (it polls the key authority for its parameters).
        from services.common.keys import KEM_ALGS, load_or_create_kem, load_or_create_signing
        from zkflpq.pq import fingerprint

        self.agg_dir.mkdir(parents=True, exist_ok=True)
        load_or_create_kem(self.agg_dir / "aggregator.kem", KEM_ALGS[self.kem])
        sig = load_or_create_signing(self.agg_dir / "aggregator.sig")
        self.aggregator_id = "aggregator-" + fingerprint(sig)[:16]
        agg = self.start_aggregator(wait=False) if self.with_aggregator else None
        self.ka.wait_ready()
        with self.admin() as admin:
            admin.enrol_aggregator(self.aggregator_id, sig.verify_key())
        if agg is not None:
            agg.wait_ready()
        return self

    def start_aggregator(self, port: int | None = None, instance_id: str | None = None,
                         wait: bool = True) -> ServiceProcess:
        assert self.ka is not None
        port = port or free_port()
        args = ["aggregator", "serve", "--data-dir", str(self.agg_dir), "--port", str(port),
                "--key-authority-url", self.ka.url, "--workers", str(self.verify_workers),
                "--queue", str(self.verify_queue), "--executor", self.verify_executor,
                "--kem", self.kem]
        if self.max_body_bytes:
            args += ["--max-body-bytes", str(self.max_body_bytes)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if instance_id:
            args += ["--instance-id", instance_id]
        n = len(self.aggregators)
        proc = ServiceProcess(f"aggregator-{n}", _cli(*args), port,
                              self.root / f"aggregator-{n}.log", self.env(),
                              ca_file=self._ca()).start()
        self.aggregators.append(proc)
        if wait:
            proc.wait_ready()
        return proc

    def restart_aggregator(self, index: int = 0, kill: bool = True) -> ServiceProcess:
        """Kill (SIGKILL) or stop an aggregator and start it again on the same port."""
        old = self.aggregators[index]
        old.kill() if kill else old.stop()
        new = ServiceProcess(old.name, old.args, old.port, old.log_path, old.env,
                             ca_file=old.ca_file).start()
        self.aggregators[index] = new
        new.wait_ready()
        return new

    def admin(self, aggregator: int = 0) -> Any:
        from zkflpq.agent import AdminClient

        agg_url = self.aggregators[aggregator].url if self.aggregators else None
        ca = self._ca()
        return AdminClient(agg_url, self.ka.url if self.ka else None, token=self.token,
                           verify=str(ca) if ca else True)

    def _ca(self) -> Path | None:
        return Path(self.tls[0]).resolve() if self.tls is not None else None

    def stop(self) -> None:
        for p in self.aggregators:
            p.stop()
        if self.ka is not None:
            self.ka.stop()

    def __enter__(self) -> LocalDeployment:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
