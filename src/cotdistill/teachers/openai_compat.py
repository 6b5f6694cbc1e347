"""OpenAI-compatible HTTP teacher (OpenAI, vLLM, SGLang, TGI, Ollama, llama.cpp server).

Built on httpx rather than the openai SDK because every retry decision is ours: the SDK's own
retries would hide attempts from the limiter and the statistics, and it raises on a 200 response
with malformed JSON instead of retrying. Retried: 408/409/425/429/5xx, timeouts, connection errors,
malformed bodies; the delay is exponential backoff with jitter, at least the server's Retry-After.
Fatal (the run stops): 401/403/404, a wrong key, URL or model. Other 4xx fail just that request.

The API key is read from the environment variable named by `api_key_env`; it is sent in a header
and appears nowhere else: not in the store, the config key, logs or error messages.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

import httpx

from cotdistill.errors import CotdistillError
from cotdistill.teachers.base import Backend, Completion, Request, TeacherError
from cotdistill.teachers.ratelimit import SlidingWindowLimiter, backoff_delay, parse_retry_after

RETRYABLE_STATUS = {408, 409, 425, 429}
FATAL_STATUS = {401, 403, 404}
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class _Retryable(Exception):
    def __init__(self, kind: str, detail: str, retry_after_s: float | None = None):
        super().__init__(detail)
        self.kind, self.retry_after_s = kind, retry_after_s


class OpenAICompatBackend(Backend):
    name = "openai"
    supports_n = None  # found out from the first n>1 request (llama.cpp ignores n)
    default_concurrency = 8

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        endpoint: str = "chat",
        api_key_env: str | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 8,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
    ):
        super().__init__(model)
        if endpoint not in ("chat", "completions"):
            raise CotdistillError(f"--endpoint must be chat or completions, got '{endpoint}'")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.shown_url = redact_url(self.base_url)  # what messages print: never the userinfo's secret
        self._secrets = _url_secrets(self.base_url)
        self.endpoint = endpoint
        self._api_key = _read_api_key(api_key_env, self.base_url)
        self.max_retries, self.backoff_base_s, self.backoff_max_s = max_retries, backoff_base_s, backoff_max_s
        self.timeout_s = timeout_s
        self._rng = rng or random.Random()
        self._rpm = SlidingWindowLimiter(rpm) if rpm else None
        self._tpm = SlidingWindowLimiter(tpm) if tpm else None
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # created inside the running event loop
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout_s,
                                             limits=httpx.Limits(max_keepalive_connections=32))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- one request -----------------------------------------------------------------------------
    def _body(self, request: Request) -> dict[str, Any]:
        params = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "n": request.n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": request.seed,
        }
        if params.stop:
            body["stop"] = list(params.stop)[:4]  # the OpenAI API accepts at most 4
        if self.endpoint == "chat":
            body["messages"] = request.prompt.messages()
        else:
            system = f"{request.prompt.system}\n\n" if request.prompt.system else ""
            body["prompt"] = system + request.prompt.text
        return body

    async def agenerate(self, request: Request) -> list[Completion]:
        body = self._body(request)
        path = "/chat/completions" if self.endpoint == "chat" else "/completions"
        # rough token estimate for the TPM limit: ~4 characters per token, plus the most it may write
        estimate = len(json.dumps(body.get("messages") or body.get("prompt"))) / 4 + request.params.max_tokens * request.n
        for attempt in range(self.max_retries + 1):
            if self._rpm:
                await self._rpm.acquire(1)
            if self._tpm:
                await self._tpm.acquire(estimate)
            self.stats.requests += 1
            try:
                return await self._attempt(path, body, request.n)
            except _Retryable as problem:
                self.stats.failed(problem.kind)
                if attempt == self.max_retries:
                    raise TeacherError(f"{self.shown_url}{path}: gave up after {attempt + 1} attempts; last: {problem}") from None
                self.stats.retries += 1
                await asyncio.sleep(backoff_delay(attempt, base_s=self.backoff_base_s, max_s=self.backoff_max_s,
                                                  retry_after_s=problem.retry_after_s, rng=self._rng))
        raise AssertionError("unreachable")

    async def _attempt(self, path: str, body: dict[str, Any], n: int) -> list[Completion]:
        started = time.perf_counter()
        try:
            response = await self._http().post(path, json=body)
        except httpx.TimeoutException as error:
            raise _Retryable("timeout", f"timed out after {self.timeout_s:g} s ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise _Retryable("connection", f"connection error ({type(error).__name__}: {self._scrub(str(error))})") from None
        latency = time.perf_counter() - started
        status = response.status_code
        if status == 200:
            return self._completions(response, latency, n)
        detail = f"HTTP {status}: {self._scrub(response.text[:300])}"
        if status in RETRYABLE_STATUS or status >= 500:
            raise _Retryable(f"http_{status}", detail, parse_retry_after(response.headers))
        raise TeacherError(f"{self.shown_url}{path}: {detail}" + _hint(status), fatal=status in FATAL_STATUS)

    def _completions(self, response: httpx.Response, latency: float, n: int) -> list[Completion]:
        try:
            payload = response.json()
            choices = sorted(payload["choices"], key=lambda c: c.get("index", 0))
            texts = [c["message"]["content"] if self.endpoint == "chat" else c["text"] for c in choices]
            if not texts or not all(isinstance(t, str) for t in texts):
                raise ValueError("no text in choices")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise _Retryable("malformed", f"malformed response body ({type(error).__name__}: {self._scrub(str(error))[:120]})") from None
        usage = payload.get("usage") or {}
        count = len(texts)
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        # usage covers all choices of the request; each sample is given its share
        share = (lambda total: None if total is None else round(total / count))
        return [
            Completion(text=text, prompt_tokens=prompt_tokens if count == 1 else share(prompt_tokens),
                       completion_tokens=share(completion_tokens), latency_s=latency,
                       finish_reason=choice.get("finish_reason"))
            for text, choice in zip(texts, choices)
        ]

    def _scrub(self, text: str) -> str:
        """Any text that may echo a request: the API key and the URL's userinfo secret become ***."""
        for secret in ([self._api_key] if self._api_key else []) + self._secrets:
            text = text.replace(secret, "***")
        return text


def redact_url(url: str) -> str:
    """`http://user:KEY@host/v1` -> `http://user:***@host/v1` (a lone userinfo token is a secret too)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def _url_secrets(url: str) -> list[str]:
    """The secret parts of a URL's userinfo, raw and percent-decoded, longest first."""
    from urllib.parse import unquote, urlsplit

    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return [url]
    if "@" not in netloc:
        return []
    userinfo = netloc.rpartition("@")[0]
    user, colon, password = userinfo.partition(":")
    secret = password if colon else user
    return sorted({secret, unquote(secret), userinfo} - {""}, key=len, reverse=True)


def _read_api_key(api_key_env: str | None, base_url: str) -> str | None:
    if api_key_env is None:
        if base_url == DEFAULT_BASE_URL:
            raise CotdistillError("the OpenAI API needs a key: pass --api-key-env NAME, naming an environment variable that holds it")
        return None  # local servers (llama.cpp, vLLM) usually need none
    key = os.environ.get(api_key_env)
    if not key:
        raise CotdistillError(f"environment variable {api_key_env} (from --api-key-env) is not set or empty: export it first")
    return key


def _hint(status: int) -> str:
    return {
        401: ". Check the key in the --api-key-env variable",
        403: ". The key lacks access to this model",
        404: ". Check --base-url (it usually ends in /v1) and --model",
    }.get(status, "")
