"""The service as separate processes: the API under uvicorn and the projection worker, started
the way a deployment starts them (``cpf-ledger serve``, ``cpf-ledger projections run``).

The one way the process tests, the drills and the benchmarks bring the stack up: each picks a
free port, waits until the API answers, and stops every process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

CLI = [sys.executable, "-c", "from api.cli import main; main()"]


def free_port() -> int:
    """A TCP port nobody listens on now (never a fixed one: a developer's server may run)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_healthy(base: str, seconds: float = 30) -> None:
    """Poll ``/healthz`` until the server answers 200."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{base} did not start within {seconds} s")
        time.sleep(0.05)


def environment(data_dir: Path, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """The environment of a deployment's processes: ``LEDGER_*`` settings over this one's."""
    env = {**os.environ, "LEDGER_DATA_DIR": str(data_dir)}
    env.pop("LEDGER_DATABASE_URL", None)
    if database_url:
        env["LEDGER_DATABASE_URL"] = database_url
        env.setdefault("LEDGER_PROJECTOR_IN_PROCESS", "false")
    env.update({f"LEDGER_{name.upper()}": value for name, value in settings.items()})
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run ``cpf-ledger ARGS`` in ``env``; its standard output (raises when it fails)."""
    done = subprocess.run(
        [*CLI, *args], env=env, input=stdin, check=True, capture_output=True, text=True
    )
    return done.stdout


class Stack:
    """The API and the projection worker as processes that can be killed and started again."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.env, self.port = env, port or free_port()
        self.log: IO[bytes] = log.open("ab")
        self.log_path = log
        self.api: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issue_key(self, role: str = "operator", name: str = "ops") -> str:
        """A new API key (bootstrapped on the command line, as a deployment does)."""
        return cli(self.env, "keys", "issue", "--role", role, "--name", name).splitlines()[-1]

    def start_api(self, workers: int = 1) -> None:
        command = [*CLI, "serve", "--port", str(self.port), "--workers", str(workers)]
        self.api = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=self.log)
        wait_until_healthy(self.base)

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [*CLI, "projections", "run"], env=self.env, stdout=self.log, stderr=self.log
        )

    @staticmethod
    def kill(process: subprocess.Popen[bytes] | None) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @staticmethod
    def terminate(process: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within ``timeout``."""
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        for process in (self.api, self.worker):
            self.terminate(process)
        self.log.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
