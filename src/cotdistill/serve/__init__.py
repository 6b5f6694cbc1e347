"""`cotdistill serve`: an OpenAI-compatible server for a trained or exported student.

    from cotdistill.serve import build_app
    app = build_app("runs/pst")          # FastAPI app; or run_server("runs/pst", ServeOptions(port=8000))

Two engines decode, each batching concurrent requests continuously: transformers (engine.py; GPUs, the
perception probe) and llama.cpp (llama_engine.py; faster on a CPU, an f16 GGUF converted once and cached).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cotdistill.errors import CotdistillError


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 8
    batch_wait_ms: float = 5.0
    model_name: str | None = None
    threshold: float | None = None  # a routed pair: think where its signal is below this (default: its router.json's)
    engine: str = "transformers"  # or "llama.cpp": faster on a CPU
    dtype: str = "float32"  # the transformers engine's weights: float32 or bfloat16


def build_app(model_dir: str | Path, options: ServeOptions | None = None):
    """Load the student (LoRA merged), or a routed pair's two students, and return the FastAPI app serving it."""
    from cotdistill.models import inference_device
    from cotdistill.routing.pair import is_router
    from cotdistill.serve.app import create_app

    options = options or ServeOptions()
    model_dir = Path(model_dir)
    if model_dir.is_file() and model_dir.suffix == ".gguf":
        raise CotdistillError(
            f"{model_dir} is a GGUF file: serve it with llama.cpp (python -m llama_cpp.server --model {model_dir}) "
            "or Ollama (the Modelfile beside it); `cotdistill serve` takes a model folder"
        )
    if options.max_batch < 1:
        raise CotdistillError(f"--max-batch must be >= 1, got {options.max_batch}")
    _check_engine(options)
    name = options.model_name or model_dir.resolve().name
    if is_router(model_dir):
        pair = _routed_pair(model_dir, options, inference_device())
        first = next(iter(pair.engines))
        return create_app(pair.engines[first], pair.strategies[first], name, pair, engine_name=options.engine)
    if options.threshold is not None:
        raise CotdistillError(f"--threshold: {model_dir} is one student, not a routed pair (a folder with router.json)")
    strategy, engine = _student(model_dir, options, inference_device())
    return create_app(engine, strategy, name, engine_name=options.engine)


def _check_engine(options: ServeOptions) -> None:
    """--engine and --dtype, and llama.cpp's presence, before anything is loaded."""
    from cotdistill.models import DECODE_DTYPES, DECODE_ENGINES

    if options.engine not in DECODE_ENGINES:
        raise CotdistillError(f"unknown --engine '{options.engine}'; supported: {', '.join(DECODE_ENGINES)}")
    if options.dtype not in DECODE_DTYPES:
        raise CotdistillError(f"unknown --dtype '{options.dtype}'; supported: {', '.join(DECODE_DTYPES)}")
    if options.engine == "llama.cpp":
        if options.dtype != "float32":
            raise CotdistillError(f"--dtype {options.dtype} is for --engine transformers: the llama.cpp engine runs an f16 GGUF "
                                  "(leave --dtype out)")  # fmt: skip
        from cotdistill.export.gguf_cache import require_llama_cpp

        require_llama_cpp()


def _student(model_dir: Path, options: ServeOptions, device: str, logprobs: bool = False):
    import torch

    from cotdistill.export.student import load_merged_student
    from cotdistill.serve.engine import BatchingEngine
    from cotdistill.strategies import read_model_metadata, strategy_from_metadata

    strategy = strategy_from_metadata(read_model_metadata(model_dir))
    if options.engine == "llama.cpp":  # on the CPU whatever `device` is (no layers offloaded): it is the CPU's engine
        from cotdistill.serve.llama_engine import LlamaCppEngine

        return strategy, LlamaCppEngine(model_dir, max_batch=options.max_batch, logprobs=logprobs)
    model, tokenizer = load_merged_student(model_dir, dtype=getattr(torch, options.dtype))
    model.to(device)
    engine = BatchingEngine(model, tokenizer, max_batch=options.max_batch, batch_wait_s=options.batch_wait_ms / 1000, logprobs=logprobs)
    return strategy, engine


def _routed_pair(folder: Path, options: ServeOptions, device: str):
    """Both students of a router folder, each on its own engine; the answer-first one keeps its answers' probabilities."""
    from cotdistill.routing.pair import read_router
    from cotdistill.routing.router import ANSWER_FIRST, PERCEPTION, THINK_FIRST
    from cotdistill.serve.app import RoutedPair

    router = read_router(folder)
    if options.threshold is not None:
        if options.threshold < 0:
            raise CotdistillError(f"--threshold must be >= 0, got {options.threshold}")
        router = router.model_copy(update={"threshold": options.threshold, "chosen_by": "set by the user (serve --threshold)"})
    probe = None
    if router.signal == PERCEPTION and options.engine == "llama.cpp":
        raise CotdistillError(f"{folder}: its router's signal is the perception probe, which reads the answer-first student's "
                              "hidden states through transformers and cannot run on llama.cpp; serve it with --engine transformers")  # fmt: skip
    if router.signal == PERCEPTION:  # loaded before the students: a missing probe fails fast
        from cotdistill.routing.perception import PERCEPTION_FILE, PerceptionModule

        probe = PerceptionModule.load(folder / PERCEPTION_FILE)
    strategies, engines = {}, {}
    for mode in (ANSWER_FIRST, THINK_FIRST):
        strategies[mode], engines[mode] = _student(router.student(folder, mode), options, device, logprobs=mode == ANSWER_FIRST)
    return RoutedPair(engines, strategies, router, probe)


def run_server(model_dir: str | Path, options: ServeOptions | None = None) -> None:
    """Serve until interrupted (uvicorn, one process; batching happens inside)."""
    import uvicorn

    options = options or ServeOptions()
    app = build_app(model_dir, options)
    uvicorn.run(app, host=options.host, port=options.port, log_level="info")


__all__ = ["ServeOptions", "build_app", "run_server"]
