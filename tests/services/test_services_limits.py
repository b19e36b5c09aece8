"""Resource limits against real uvicorn processes on loopback (issue #13, items 4–6):
uploads are admitted (sender enrolled, per-sender slot) before their body is read, slow
headers and slow bodies are cut off, and the aggregator's verification workers and
multiprocessing's resource tracker die with the aggregator.

Raw sockets throughout: httpx cannot declare a length it does not send, or send slowly."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import Clients, start_deployment

from zkflpq.protocol import HEADER_SENDER, HEADER_TIMESTAMP, SEALED_MEDIA_TYPE, now

pytestmark = pytest.mark.timeout(120)

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 4.0
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def lim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # max_body_bytes=None: the real defaults (aggregator 256 MiB, key authority 1 GiB)
    dep = start_deployment(tmp_path_factory.mktemp("limits"), max_body_bytes=None,
                           extra_env={"ZKFLPQ_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
                                      "ZKFLPQ_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)})
    yield dep
    dep.stop()


def target(dep: Any, which: str) -> tuple[Any, str]:
    """(service process, upload path) of the aggregator or the key authority."""
    if which == "aggregator":
        return dep.aggregator, "/v1/rounds/1/updates"
    return dep.ka, "/v1/decryptions"


def enrolled_sender(dep: Any, which: str) -> str:
    if which == "aggregator":
        c = Clients(dep).new()
        c.close()
        return str(c.client_id)
    return dep.aggregator_id  # enrolled at the key authority by LocalDeployment


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(True)
    return s


def upload_head(path: str, length: int, sender: str | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}",
             f"Content-Type: {SEALED_MEDIA_TYPE}"]
    if sender is not None:
        lines += [f"{HEADER_SENDER}: {sender}", f"{HEADER_TIMESTAMP}: {now()}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _parse(data: bytes) -> tuple[int, dict[str, str], bytes] | None:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    hdrs = {k.strip().lower(): v.strip() for k, _, v in
            (h.decode().partition(":") for h in head.split(b"\r\n")[1:])}
    if len(rest) < int(hdrs.get("content-length", "0")):
        return None
    return int(head.split()[1]), hdrs, rest


def read_response(s: socket.socket, timeout: float) -> tuple[int | None, dict[str, str], bytes]:
    """(status, headers, body) of one response, or (None, {}, b"") if none came in time."""
    s.settimeout(timeout)
    data = b""
    try:
        while _parse(data) is None:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return _parse(data) or (None, {}, b"")


def closed_within(s: socket.socket, timeout: float) -> bytes | None:
    """What the server sent before closing, or None if it kept the connection open."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
    except TimeoutError:
        pass
    return None


# -- (a) unknown senders: refused before the body is read -------------------------------------
@pytest.mark.parametrize("which", ["aggregator", "key_authority"])
def test_unknown_sender_with_huge_body_is_refused_unread(lim: Any, which: str) -> None:
    proc, path = target(lim, which)
    pid = proc.proc.pid
    declared = 200 * MiB if which == "aggregator" else 256 * MiB  # under each size limit
    for _ in range(2):  # warm the route up, so the baseline includes what it imports
        with connect(proc.port) as s:
            s.sendall(upload_head(path, 10, "client-unknown0000000000") + b"0123456789")
            assert read_response(s, 10)[0] == 403
    before = rss_kib(pid)
    t0 = time.monotonic()
    with connect(proc.port) as s:
        s.sendall(upload_head(path, declared, "client-unknown0000000000"))
        s.settimeout(5)
        sent = 0
        try:  # 32 MiB of the announced body; the server stops reading and closes
            while sent < 32 * MiB:
                s.sendall(b"\0" * MiB)
                sent += MiB
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        time.sleep(0.3)  # let a server that reads the body take in what was sent
        grown = rss_kib(pid) - before
        status, hdrs, body = read_response(s, 5)
    elapsed = time.monotonic() - t0
    assert grown < 8 * 1024, f"server RSS grew by {grown} KiB"
    assert status == 403, f"no prompt refusal (status {status}, {sent} bytes sent)"
    assert json.loads(body)["error"] == "not_enrolled"
    assert hdrs.get("connection") == "close"
    assert elapsed < 5


def test_missing_sender_headers_refused_unread(lim: Any) -> None:
    for which in ("aggregator", "key_authority"):
        proc, path = target(lim, which)
        with connect(proc.port) as s:
            s.sendall(upload_head(path, 100 * MiB, None) + b"x" * 1000)
            status, hdrs, body = read_response(s, 5)
        assert status == 401 and json.loads(body)["error"] == "unauthenticated"
        assert hdrs.get("connection") == "close"


# -- (b) per-sender upload slots ----------------------------------------------------------------
@pytest.mark.parametrize("which", ["aggregator", "key_authority"])
def test_third_concurrent_upload_of_one_sender_gets_429(lim: Any, which: str) -> None:
    proc, path = target(lim, which)
    sender = enrolled_sender(lim, which)
    socks = [connect(proc.port) for _ in range(3)]
    try:
        for s in socks:  # each announces 500 kB and sends 10 bytes of it: all three wait
            s.sendall(upload_head(path, 500_000, sender) + b"0123456789")
        ready, _, _ = select.select(socks, [], [], 2.0)
        assert len(ready) == 1, f"{len(ready)} of 3 uploads were answered at once"
        status, hdrs, body = read_response(ready[0], 2)
        assert status == 429 and json.loads(body)["error"] == "too_many_uploads"
        assert hdrs.get("retry-after") == "1" and hdrs.get("connection") == "close"
        # the two admitted uploads are still waiting for their bodies
        assert select.select([s for s in socks if s is not ready[0]], [], [], 0.2)[0] == []
    finally:
        for s in socks:
            s.close()
    # their slots are released when they go away: a new upload is admitted and read
    deadline = time.monotonic() + 5
    while True:
        with connect(proc.port) as s:
            s.sendall(upload_head(path, 100, sender) + os.urandom(100))
            status, _, body = read_response(s, 5)
        if status != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 400 and json.loads(body)["error"] in ("malformed", "truncated")


# -- (c) read timeouts --------------------------------------------------------------------------
def test_slow_and_idle_header_connections_are_closed(lim: Any) -> None:
    for proc in (lim.aggregator, lim.ka):
        idle = connect(proc.port)
        partial = connect(proc.port)
        drip = connect(proc.port)
        t0 = time.monotonic()
        partial.sendall(b"POST /v1/rounds/1/updates HTTP/1.1\r\nHost: x\r\n")
        # a slowloris: one header byte every 0.2 s (uvicorn's keep-alive timer restarts
        # on every byte)
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
        cut = False
        for i in range(len(head)):
            try:
                drip.sendall(head[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            if closed_within(drip, 0.2) is not None:
                cut = True
                break
            assert time.monotonic() - t0 < HEADER_TIMEOUT_S + 4, "slow headers not cut off"
        assert cut
        got = closed_within(partial, 3)
        assert got is not None and got.startswith(b"HTTP/1.1 408"), got
        assert b"header_timeout" in got
        assert closed_within(idle, 3) == b""
        for s in (idle, partial, drip):
            s.close()


def test_slow_body_gets_408_and_other_routes_are_cut_off(lim: Any) -> None:
    socks = []
    for which in ("aggregator", "key_authority"):
        proc, path = target(lim, which)
        s = connect(proc.port)
        s.sendall(upload_head(path, 1000, enrolled_sender(lim, which)) + b"0123456789")
        socks.append(s)
    # an admin JSON route (body parsed by FastAPI, not by read_body): connection backstop
    admin = connect(lim.aggregator.port)
    admin.sendall(b"POST /v1/clients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"public_key\": \"")
    t0 = time.monotonic()
    for s in socks:
        status, hdrs, body = read_response(s, BODY_TIMEOUT_S + 3)
        assert status == 408 and json.loads(body)["error"] == "body_timeout"
        assert hdrs.get("connection") == "close"
        assert closed_within(s, 2) is not None
    assert BODY_TIMEOUT_S - 1 < time.monotonic() - t0 < BODY_TIMEOUT_S + 3
    assert closed_within(admin, 5) is not None, "slow admin body not cut off"
    for s in [*socks, admin]:
        s.close()
    # and the services still answer
    for proc in (lim.aggregator, lim.ka):
        with connect(proc.port) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s, 5)[0] == 200


# -- (d) verification workers die with the aggregator ------------------------------------------
def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = raw.rsplit(")", 1)[1].split()
    return f[0], int(f[1]), int(f[19])


def _children(pid: int) -> dict[int, int]:
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit() and (st := _proc_stat(int(d))) is not None and st[1] == pid:
            out[int(d)] = st[2]
    return out


def _alive(pid: int, started: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[2] == started and st[0] not in ("Z", "X")


def test_sigkill_of_the_aggregator_takes_its_workers_along(lim: Any) -> None:
    lim.verify_executor, lim.verify_workers = "process", 2
    try:
        agg = lim.start_aggregator()  # a second aggregator, with a process pool
    finally:
        lim.verify_executor, lim.verify_workers = "thread", 1
    pid = agg.proc.pid
    try:
        deadline = time.monotonic() + 30
        while len(kids := _children(pid)) < 3:  # 2 workers + the resource tracker
            assert time.monotonic() < deadline, f"workers never started: {kids}"
            time.sleep(0.1)
        cmdlines = [Path(f"/proc/{k}/cmdline").read_bytes() for k in kids]
        assert any(b"resource_tracker" in c for c in cmdlines), cmdlines
        assert sum(b"spawn_main" in c for c in cmdlines) == 2, cmdlines
        os.kill(pid, signal.SIGKILL)  # the main process only, not its process group
        agg.proc.wait(10)
        deadline = time.monotonic() + 20  # loaded 2-core runners are slow to schedule
        while left := [k for k, t in kids.items() if _alive(k, t)]:
            assert time.monotonic() < deadline, f"orphans still alive: {left}"
            time.sleep(0.1)
    finally:
        agg.kill()  # the whole group: whatever survived a failed run
        lim.aggregators.remove(agg)
