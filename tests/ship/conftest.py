"""Overfit tiny-llama students (certain of their outputs) and `cotdistill serve` processes for the ship tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from eval_students import overfit_student  # noqa: E402


@pytest.fixture(scope="session")
def student(tiny_llama, tmp_path_factory):
    """student(strategy_name, **options) -> model folder, cached for the session."""
    cache: dict = {}

    def make(strategy_name: str, **options) -> Path:
        key = (strategy_name, tuple(sorted(options.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"ship-{strategy_name}")
            cache[key] = overfit_student(tiny_llama, folder / "model", strategy_name, **options)
        return cache[key]

    return make


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`cotdistill serve MODEL` as a real process on 127.0.0.1; `base_url` ends in /v1."""

    def __init__(self, model_dir: Path, log_path: Path, *extra: str):
        import subprocess

        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "w")
        command = [str(Path(sys.executable).parent / "cotdistill"), "serve", str(model_dir), "--port", str(self.port), *extra]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 120) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"cotdistill serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"cotdistill serve did not start in {timeout_s} s:\n{self.log()}")
            time.sleep(0.3)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:  # a server that ignores SIGTERM (a live decoding thread) is a bug
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"cotdistill serve did not exit within 15 s of SIGTERM:\n{self.log()}") from None
        finally:
            self._log.close()


@pytest.fixture(scope="session")
def server_process():
    """The ServerProcess class, for a test that starts (or fails to start) a server itself."""
    return ServerProcess


@pytest.fixture(scope="module")
def serve(student, tmp_path_factory):
    """serve(strategy_name or model folder, *flags, **options) -> a running ServerProcess, stopped after the module."""
    running: dict = {}

    def start(model: str | Path, *flags: str, **options) -> ServerProcess:
        key = (str(model), flags, tuple(sorted(options.items())))
        if key not in running:
            log = tmp_path_factory.mktemp("serve") / "server.log"
            running[key] = ServerProcess(model if isinstance(model, Path) else student(model, **options), log, *flags)
        return running[key]

    yield start
    for server in running.values():
        server.stop()
