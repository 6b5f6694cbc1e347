"""`cotdistill serve`: an OpenAI-compatible server for a trained or exported student.

    from cotdistill.serve import build_app
    app = build_app("runs/pst")          # FastAPI app; or run_server("runs/pst", ServeOptions(port=8000))
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
    mode: str | None = None  # adaptive students: "auto" (the perception module picks per question) or a fixed mode
    threshold: float | None = None  # adaptive students in mode auto: answer first where the score reaches it


def build_app(model_dir: str | Path, options: ServeOptions | None = None):
    """Load the student (LoRA merged) and return the FastAPI app serving it."""
    from cotdistill.export.student import load_merged_student
    from cotdistill.models import inference_device
    from cotdistill.serve.app import create_app
    from cotdistill.serve.engine import BatchingEngine
    from cotdistill.strategies import read_model_metadata, strategy_from_metadata, with_modes

    options = options or ServeOptions()
    model_dir = Path(model_dir)
    if model_dir.is_file() and model_dir.suffix == ".gguf":
        raise CotdistillError(
            f"{model_dir} is a GGUF file: serve it with llama.cpp (python -m llama_cpp.server --model {model_dir}) "
            "or Ollama (the Modelfile beside it); `cotdistill serve` takes a model folder"
        )
    if options.max_batch < 1:
        raise CotdistillError(f"--max-batch must be >= 1, got {options.max_batch}")
    strategy = with_modes(strategy_from_metadata(read_model_metadata(model_dir)), options.mode, options.threshold,
                          source="serve options")  # fmt: skip
    perception = None
    from cotdistill.strategies.builtin import AUTO

    if getattr(strategy, "mode", None) == AUTO:  # loaded before the model: a missing module fails fast
        from cotdistill.routing import PERCEPTION_FILE, PerceptionModule

        perception = PerceptionModule.load(model_dir / PERCEPTION_FILE)
    model, tokenizer = load_merged_student(model_dir)
    model.to(inference_device())
    engine = BatchingEngine(model, tokenizer, max_batch=options.max_batch, batch_wait_s=options.batch_wait_ms / 1000)
    return create_app(engine, strategy, options.model_name or model_dir.resolve().name, perception)


def run_server(model_dir: str | Path, options: ServeOptions | None = None) -> None:
    """Serve until interrupted (uvicorn, one process; batching happens inside)."""
    import uvicorn

    options = options or ServeOptions()
    app = build_app(model_dir, options)
    uvicorn.run(app, host=options.host, port=options.port, log_level="info")


__all__ = ["ServeOptions", "build_app", "run_server"]
