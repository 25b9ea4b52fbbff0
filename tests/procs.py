"""Processes the tests start: free ports, a `bentoml serve` that is waited for, stopping a process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def stop_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the whole group (bentoml serve forks workers), SIGKILL it if it is still up after ``timeout``."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bentoml(env: dict, cwd, log, port: int, ready_path: str = "/readyz", timeout: float = 180):
    """``bentoml serve services.api:ApiService`` on 127.0.0.1:``port`` in its own process group;
    returns the process once ``ready_path`` answers 200 (raises with the log tail otherwise)."""
    import time

    import httpx

    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", "services.api:ApiService", "--host",
             "127.0.0.1", "--port", str(port)],
            env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with {proc.returncode}:\n{open(log).read()[-5000:]}")
        try:
            if httpx.get(f"{url}{ready_path}", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_group(proc)
            raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{open(log).read()[-5000:]}")
        time.sleep(0.5)
