"""Ship a trained student: `export_model` writes a merged transformers folder or a GGUF (+ Ollama Modelfile).

    from cotdistill.export import export_model
    export_model("runs/pst", "dist/pst-gguf", fmt="gguf", quantization="q8_0")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cotdistill.errors import CotdistillError
from cotdistill.export.gguf_writer import QUANTIZATIONS, SUPPORTED_ARCHITECTURES, UnsupportedExport
from cotdistill.export.spec import ServingSpec, serving_spec

FORMATS = ("hf", "gguf")

__all__ = ["FORMATS", "QUANTIZATIONS", "SUPPORTED_ARCHITECTURES", "ExportResult", "ServingSpec",
           "UnsupportedExport", "export_model", "serving_spec"]  # fmt: skip


@dataclass
class ExportResult:
    format: str
    out: Path
    files: list[Path] = field(default_factory=list)
    spec: ServingSpec | None = None


def export_model(model_dir: str | Path, out: str | Path, fmt: str = "hf", *, quantization: str = "f16") -> ExportResult:
    """Export the student in `model_dir` (a `cotdistill train` folder) into the folder `out`."""
    from cotdistill.export.student import load_merged_student

    model_dir, out = Path(model_dir), Path(out)
    if fmt not in FORMATS:
        raise CotdistillError(f"unknown export format '{fmt}'; supported: {', '.join(FORMATS)}")
    if fmt == "gguf" and quantization not in QUANTIZATIONS:
        raise CotdistillError(f"unknown GGUF type '{quantization}'; supported: {', '.join(QUANTIZATIONS)}")
    spec = serving_spec(model_dir)
    model, tokenizer = load_merged_student(model_dir)
    if fmt == "hf":
        from cotdistill.export.hf import export_hf

        return ExportResult("hf", out, export_hf(model, tokenizer, spec, model_dir, out), spec)
    return ExportResult("gguf", out, _export_gguf(model, tokenizer, spec, model_dir, out, quantization), spec)


def _export_gguf(model, tokenizer, spec: ServingSpec, model_dir: Path, out: Path, quantization: str) -> list[Path]:
    from cotdistill.export.gguf_writer import check_supported, export_gguf
    from cotdistill.export.modelfile import modelfile
    from cotdistill.files import write_text_atomic

    check_supported(model, tokenizer, quantization)  # before creating anything
    out.mkdir(parents=True, exist_ok=True)
    name = f"{model_dir.resolve().name}-{quantization}"
    staging = out / f".{name}.gguf.tmp"
    export_gguf(model, tokenizer, spec, staging, quantization, name=name)
    gguf_file = staging.replace(out / f"{name}.gguf")  # a crash never leaves a complete-looking half file
    model_file = write_text_atomic(out / "Modelfile", modelfile(gguf_file.name, spec, tokenizer.eos_token))
    return [gguf_file, model_file]
