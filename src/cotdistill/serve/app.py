"""The OpenAI-compatible HTTP surface of `cotdistill serve` (FastAPI).

Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health.
- Chat: the last user message is the question; it is wrapped in the student's own prompt template.
  Completions: the prompt is sent as given (format it like the student was trained, e.g.
  "Question: ...\\nAnswer:"), as llama.cpp or vLLM would.
- Answer-first students stop at their separator (EOS by default); `"explain": true` (an extra body
  field) lets them go on to the rationale's end and returns it too; a chat message shows an EOS
  separator as a blank line. Pre-thinking students always run to EOS.
- Every choice carries `answer` and `rationale` (the strategy's own split of the output); `usage`
  counts the prompt's and the generated tokens (EOS included when it ended the row).
- A routed pair (a router folder, router.json): the answer-first student answers every request; where its
  answer is unsure (the router's signal below its threshold) the request goes on to the think-first
  student. The reply returns as soon as the answer-first student is confident; choices carry `mode` and
  `route_score`, and `usage` counts both students' tokens. A routed pair decodes greedily.
- Errors use OpenAI's shape `{"error": {"message", "type", "param", "code"}}` with a 4xx status for
  anything the client did wrong; an unexpected failure is a 500 with a one-line message, never a
  traceback.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cotdistill.evaluation.generation import eos_count_for
from cotdistill.export.spec import ServingSpec, spec_of
from cotdistill.serve.engine import BatchingEngine, Completion, DecodeParams

log = logging.getLogger("cotdistill.serve")
DEFAULT_MAX_TOKENS = 256  # what `cotdistill eval` allows


class ApiError(Exception):
    """A client error with OpenAI's error fields."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind


class _Sampling(BaseModel):
    """Fields both endpoints share; unknown OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=16)
    stop: str | list[str] | None = None
    stream: bool = False
    explain: bool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


class CompletionRequest(_Sampling):
    prompt: str | list[str]


def create_app(engine: BatchingEngine, strategy, model_name: str, router: "RoutedPair | None" = None,
               engine_name: str = "transformers") -> FastAPI:  # fmt: skip
    """`router`: a routed pair, whose answer-first student is `engine` / `strategy`; `engine_name`: which engine
    decodes (transformers or llama.cpp), reported by /health."""
    spec = spec_of(strategy)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        for each in router.engines.values() if router else [engine]:
            each.close()  # on shutdown: the decoding thread would keep the process alive

    app = FastAPI(title="cotdistill serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    created = int(time.time())
    _install_error_handlers(app)

    @app.get("/health")
    async def health() -> dict:
        routing = {"routing": {"signal": router.router.signal, "threshold": router.router.threshold, "modes": dict(router.counts)}} if router else {}
        return {"status": "ok", "model": model_name, "strategy": spec.strategy, "engine": engine_name,
                **dataclasses.asdict(engine.stats), **routing}  # fmt: skip

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "cotdistill", "strategy": spec.strategy}]}  # fmt: skip

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest) -> dict:
        _check_request(request, model_name)
        question = _question(request.messages)
        max_tokens = request.max_completion_tokens or request.max_tokens or DEFAULT_MAX_TOKENS
        if router:
            spent, served, served_spec, route = await router.answer(lambda s: s.prompt(question), request, max_tokens)
        else:
            params = _params(request, spec, max_tokens, eos_count_for(strategy, engine.tokenizer, request.explain))
            spent, served, served_spec, route = [await _complete(engine, spec.prompt(question), params)], strategy, spec, {}
        eos = engine.tokenizer.eos_token
        choices = [
            # An EOS separator is a token, not text a reader wants: the chat message shows a blank line there.
            {"index": i, "message": {"role": "assistant", "content": "\n\n".join(p.strip() for p in text.split(eos))},
             "finish_reason": finish, **_split(served, text), **route}  # fmt: skip
            for i, (text, finish) in enumerate(_texts(spent[-1], request, served_spec))
        ]
        return _response("chat.completion", "chatcmpl", model_name, choices, spent)

    @app.post("/v1/completions")
    async def completions(request: CompletionRequest) -> dict:
        _check_request(request, model_name)
        prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
        if not prompts or any(not p for p in prompts):
            raise ApiError(400, "prompt must be a non-empty string or list of non-empty strings", param="prompt")
        max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
        import asyncio

        async def one(prompt: str):
            if router:  # the prompt as given, to whichever student answers it
                return await router.answer(lambda _: prompt, request, max_tokens)
            params = _params(request, spec, max_tokens, eos_count_for(strategy, engine.tokenizer, request.explain))
            return [await _complete(engine, prompt, params)], strategy, spec, {}

        results = await asyncio.gather(*(one(p) for p in prompts))
        choices, index = [], 0
        for spent, fixed, s, route in results:
            for text, finish in _texts(spent[-1], request, s):
                choices.append({"index": index, "text": text, "finish_reason": finish, "logprobs": None,
                                **_split(fixed, text), **route})  # fmt: skip
                index += 1
        return _response("text_completion", "cmpl", model_name, choices, [c for spent, *_ in results for c in spent])

    return app


class RoutedPair:
    """A routed pair's two students, each with its own engine, and the rule that picks between them."""

    def __init__(self, engines: dict, strategies: dict, router, probe=None):
        self.engines, self.strategies, self.router, self.probe = engines, strategies, router, probe
        self.specs = {mode: spec_of(strategy) for mode, strategy in strategies.items()}
        self.counts = dict.fromkeys(engines, 0)

    async def answer(self, prompt_of, request: _Sampling, max_tokens: int) -> tuple[list[Completion], object, ServingSpec, dict]:
        """(every completion spent on the request, the answering student's strategy and spec, the choice's route fields)."""
        import asyncio

        from cotdistill.routing.router import ANSWER_FIRST, THINK_FIRST, answer_logprobs, confidence, thinks

        if not (request.temperature == 0 and request.n == 1):
            raise ApiError(400, "a routed pair answers greedily: send temperature 0 and n 1", param="temperature")
        engine, spec = self.engines[ANSWER_FIRST], self.specs[ANSWER_FIRST]
        prompt = prompt_of(spec)
        spent = [await _complete(engine, prompt, _params(request, spec, max_tokens, 1, explain=False))]
        if self.probe is not None:
            score = float(self.probe.score(await asyncio.to_thread(engine.question_features, prompt))[0])
        else:
            score = confidence(answer_logprobs(spent[0].generations[0]))[self.router.signal]
        mode = THINK_FIRST if thinks(score, self.router.threshold) else ANSWER_FIRST
        self.counts[mode] += 1
        if mode == THINK_FIRST:
            engine, spec = self.engines[THINK_FIRST], self.specs[THINK_FIRST]
            spent.append(await _complete(engine, prompt_of(spec), _params(request, spec, max_tokens, 1)))
        elif request.explain:  # the confident answer, now with its rationale
            eos_count = eos_count_for(self.strategies[mode], engine.tokenizer, True)
            spent.append(await _complete(engine, prompt, _params(request, spec, max_tokens, eos_count)))
        return spent, self.strategies[mode], spec, {"mode": mode, "route_score": round(score, 4)}


def _check_request(request: _Sampling, model_name: str) -> None:
    if request.stream:
        raise ApiError(400, "stream=true is not supported by cotdistill serve; send stream=false", param="stream")
    if request.model not in (None, "", model_name):
        raise ApiError(404, f"model '{request.model}' does not exist; this server serves '{model_name}'",
                       param="model", code="model_not_found")  # fmt: skip
    if request.n > 1 and request.temperature == 0:
        raise ApiError(400, "n > 1 needs temperature > 0 (greedy decoding gives n identical answers)", param="n")


def _question(messages: list[ChatMessage]) -> str:
    """The text of the last user message (string or text parts)."""
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise ApiError(400, "messages must contain a user message (the question)", param="messages")
    content = users[-1].content
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if part.get("type") == "text")
    if not content or not content.strip():
        raise ApiError(400, "the last user message is empty", param="messages")
    return content


def _params(request: _Sampling, spec: ServingSpec, max_tokens: int, eos_count: int, explain: bool | None = None) -> DecodeParams:
    extra = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if any(not s for s in extra):
        raise ApiError(400, "stop strings must be non-empty", param="stop")
    stops = tuple(dict.fromkeys([*spec.stops(request.explain if explain is None else explain), *extra]))
    return DecodeParams(max_tokens=max_tokens, stop=stops, temperature=request.temperature,
                        top_p=request.top_p, n=request.n, eos_count=eos_count)  # fmt: skip


async def _complete(engine: BatchingEngine, prompt: str, params: DecodeParams) -> Completion:
    prompt_tokens = engine.count_tokens(prompt)
    limit = engine.context_length
    if limit and prompt_tokens + params.max_tokens > limit:
        raise ApiError(400, f"prompt ({prompt_tokens} tokens) + max_tokens ({params.max_tokens}) exceed the "
                            f"student's context of {limit} tokens", param="max_tokens", code="context_length_exceeded")  # fmt: skip
    return await engine.complete(prompt, params)


def _texts(completion: Completion, request: _Sampling, spec: ServingSpec):
    """(text without the stop string that ended it, finish_reason) per generated row, as OpenAI reports."""
    stops = spec.stops(request.explain)
    extra = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    for generation in completion.generations:
        text = generation.text
        if generation.stopped_by == "stop":
            for stop in (*stops, *extra):
                if text.endswith(stop):
                    text = text[: -len(stop)]
                    break
        yield text, "length" if generation.stopped_by == "length" else "stop"


def _split(strategy, text: str) -> dict:
    """The answer and the rationale of one output, split as evaluation splits it."""
    answer, rationale = strategy.split_output(text)
    return {"answer": answer, "rationale": rationale}


def _response(kind: str, prefix: str, model_name: str, choices: list[dict], completions: list[Completion]) -> dict:
    prompt_tokens = sum(c.prompt_tokens for c in completions)
    completion_tokens = sum(g.n_tokens for c in completions for g in c.generations)
    return {
        "id": f"{prefix}-{uuid.uuid4().hex[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": model_name,
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},  # fmt: skip
    }


def _error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(_error_body(error.message, error.kind, error.param, error.code), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}" for e in problems)
        return JSONResponse(_error_body(message or "invalid request", "invalid_request_error", param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if error.status_code == 404 else "invalid_request_error"
        return JSONResponse(_error_body(str(error.detail), kind), status_code=error.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("request failed")  # the traceback goes to the server log, not to the client
        return JSONResponse(_error_body(f"internal error ({type(error).__name__})", "server_error"), status_code=500)
