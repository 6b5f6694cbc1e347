"""`cotdistill export` and `cotdistill serve`: ship a trained student (thin layer over cotdistill.export / .serve)."""

from __future__ import annotations

from pathlib import Path

import typer


def export_command(
    model: Path = typer.Argument(..., help="Trained model folder (written by `cotdistill train`, with cotdistill.json)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the export into."),
    fmt: str = typer.Option("hf", "--format", "-f", help="hf (merged safetensors + generation_config.json) or gguf (llama.cpp / Ollama)."),
    quantization: str = typer.Option("f16", "--type", help="GGUF tensor type: f32, f16 or q8_0."),
) -> None:
    """Export a student: LoRA merged, stop settings that end answer-first students at their separator."""
    from cotdistill.export import export_model

    result = export_model(model, out, fmt, quantization=quantization)
    spec = result.spec
    stops = ", ".join(repr(s) for s in spec.stop_strings) or "EOS only"
    typer.echo(f"exported {spec.strategy} student ({fmt}{'/' + quantization if fmt == 'gguf' else ''}); stops at: {stops}")
    for path in result.files:
        typer.echo(f"  {path}")
    if fmt == "gguf":
        typer.echo(f"Ollama: cd {result.out} && ollama create my-student -f Modelfile")


def serve_command(
    model: Path = typer.Argument(..., help="Trained or exported (--format hf) model folder with cotdistill.json, or a routed pair's folder (router.json)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    max_batch: int = typer.Option(8, "--max-batch", help="Most requests decoded side by side (greedy ones join and leave the batch at any step)."),
    batch_wait_ms: float = typer.Option(5.0, "--batch-wait-ms", help="How long a batch of sampled (temperature > 0) requests waits for more to join."),
    model_name: str = typer.Option(None, "--model-name", help="Model id in /v1/models (default: the folder name)."),
    threshold: float = typer.Option(None, "--threshold", help="A routed pair (router folder): send a request on to the think-first student where "
                                    "the router's signal is below this (default: its router.json's; lower: fewer tokens)."),
    engine: str = typer.Option("transformers", "--engine", help="Both batch concurrent requests. transformers: GPUs, the "
                               "perception probe. llama.cpp: faster on a CPU (f16 weights, converted once to a cached GGUF; "
                               "a 135M student's step 27 ms against 56)."),
    dtype: str = typer.Option("float32", "--dtype", help="The transformers engine's weights: float32, or bfloat16 (half the "
                              "memory, faster at batch 8 on a CPU; greedy answers can differ from float32's)."),
) -> None:
    """OpenAI-compatible server (/v1/chat/completions, /v1/completions, /v1/models, /health) for a student."""
    from cotdistill.serve import ServeOptions, run_server

    run_server(model, ServeOptions(host=host, port=port, max_batch=max_batch, batch_wait_ms=batch_wait_ms,
                                   model_name=model_name, threshold=threshold, engine=engine, dtype=dtype))  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add `cotdistill export` and `cotdistill serve` to the main app."""
    app.command("export")(export_command)
    app.command("serve")(serve_command)
