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
    """Export the student in `model_dir` (a `cotdistill train` folder) into the folder `out`; a routed pair (a
    router folder) exports as one folder: both students merged, beside a router.json that names them."""
    from cotdistill.export.student import load_merged_student
    from cotdistill.routing.pair import is_router

    model_dir, out = Path(model_dir), Path(out)
    if fmt not in FORMATS:
        raise CotdistillError(f"unknown export format '{fmt}'; supported: {', '.join(FORMATS)}")
    if fmt == "gguf" and quantization not in QUANTIZATIONS:
        raise CotdistillError(f"unknown GGUF type '{quantization}'; supported: {', '.join(QUANTIZATIONS)}")
    if is_router(model_dir):
        if fmt != "hf":
            raise CotdistillError(f"{model_dir} is a routed pair: export it with --format hf (a GGUF holds one student; "
                                  "export each student folder named in its router.json to GGUF on its own)")  # fmt: skip
        return _export_router(model_dir, out)
    spec = serving_spec(model_dir)
    model, tokenizer = load_merged_student(model_dir)
    if fmt == "hf":
        from cotdistill.export.hf import export_hf

        return ExportResult("hf", out, export_hf(model, tokenizer, spec, model_dir, out), spec)
    return ExportResult("gguf", out, _export_gguf(model, tokenizer, spec, model_dir, out, quantization), spec)


def _export_router(folder: Path, out: Path) -> ExportResult:
    """out/answer-first/, out/think-first/ (each an hf export), out/router.json naming them, and the probe if any."""
    import shutil

    from cotdistill.routing.pair import read_router, write_router
    from cotdistill.routing.perception import PERCEPTION_FILE
    from cotdistill.routing.router import ANSWER_FIRST, THINK_FIRST

    router = read_router(folder)
    files = []
    for mode in (ANSWER_FIRST, THINK_FIRST):
        files += export_model(router.student(folder, mode), out / mode, "hf").files
    if (folder / PERCEPTION_FILE).is_file():
        files.append(Path(shutil.copy2(folder / PERCEPTION_FILE, out / PERCEPTION_FILE)))
    files.append(write_router(out, router.model_copy(update={"answer_first": ANSWER_FIRST, "think_first": THINK_FIRST})))
    return ExportResult("hf", out, files, serving_spec(router.student(folder, ANSWER_FIRST)))


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
