"""A student converted once to an f16 GGUF for llama.cpp (`eval --engine llama.cpp`, `serve --engine llama.cpp`).

The GGUF goes to `$COTDISTILL_HOME/gguf/<folder>-<key>/` (default `~/.cache/cotdistill`), keyed by the folder's
resolved path and its files' sizes and mtimes: a restart reuses the file, a retrained student converts again.
Beside it, student.json keeps what decoding needs from the merged model (its EOS ids, its context), so a
reuse loads nothing in torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cotdistill.errors import CotdistillError

GGUF_TYPE = "f16"  # what bench/results/decode.md measured: identical greedy outputs, half of f32's bytes per step
CACHE_FORMAT = 1  # part of the cache key: raise it when the cached files change meaning
FACTS_FILE = "student.json"  # beside the GGUF: what decoding needs from the merged model without loading it again


def require_llama_cpp() -> None:
    """One line naming the install where llama-cpp-python is missing or cannot load its library."""
    try:
        import llama_cpp  # noqa: F401
    except (ImportError, OSError, RuntimeError) as error:
        why = " ".join(str(error).split())  # one line, whatever the loader said
        raise CotdistillError(f"--engine llama.cpp needs llama-cpp-python ({type(error).__name__}: {why}): "
                              "pip install llama-cpp-python, or use --engine transformers") from None  # fmt: skip


def cache_root() -> Path:
    """`$COTDISTILL_HOME/gguf`, beside the package's other caches (models, semantic targets)."""
    return Path(os.environ.get("COTDISTILL_HOME") or Path.home() / ".cache" / "cotdistill") / "gguf"


def cache_key(model_dir: Path) -> str:
    """Changes when any file of the folder does (weights, tokenizer, generation config: size or mtime) or it is
    another folder."""
    files = sorted(p for p in model_dir.iterdir() if p.is_file())
    facts = {"path": str(model_dir.resolve()), "type": GGUF_TYPE, "format": CACHE_FORMAT,
             "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]}  # fmt: skip
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CachedStudent:
    gguf: Path
    eos_ids: list[int]  # evaluation's eos_token_ids(model, tokenizer): the model's generation config included
    context_length: int | None  # the model's max_position_embeddings


def cached_student(model_dir: Path, cache_dir: Path | None = None) -> CachedStudent:
    """The student's GGUF, converted on first use."""
    if not model_dir.is_dir():
        raise CotdistillError(f"model folder '{model_dir}' does not exist")
    folder = (cache_dir or cache_root()) / f"{'-'.join(model_dir.resolve().parts[-2:])}-{cache_key(model_dir)}"  # a run cell's model/ says whose
    gguf_file, facts_file = folder / f"student-{GGUF_TYPE}.gguf", folder / FACTS_FILE
    if not (gguf_file.is_file() and facts_file.is_file()):
        _convert(model_dir, gguf_file, facts_file)
    facts = json.loads(facts_file.read_text())
    return CachedStudent(gguf_file, facts["eos_ids"], facts["context_length"])


def _convert(model_dir: Path, gguf_file: Path, facts_file: Path) -> None:
    """Merge the student and write its GGUF (the facts first: the GGUF appears last, complete or not at all)."""
    import tempfile

    from cotdistill.evaluation.generation import eos_token_ids
    from cotdistill.export.gguf_writer import UnsupportedExport, check_supported, export_gguf
    from cotdistill.export.spec import serving_spec
    from cotdistill.export.student import load_merged_student
    from cotdistill.files import remove_stale_temps, write_json_atomic

    print(f"cotdistill: converting {model_dir} to an {GGUF_TYPE} GGUF for llama.cpp (once): {gguf_file}",
          file=sys.stderr, flush=True)  # fmt: skip
    spec = serving_spec(model_dir)
    model, tokenizer = load_merged_student(model_dir)
    try:
        check_supported(model, tokenizer, GGUF_TYPE)
    except UnsupportedExport as error:
        raise CotdistillError(f"--engine llama.cpp cannot serve {model_dir}: {error}; serve it with --engine transformers") from None
    write_json_atomic(facts_file, {"source": str(model_dir.resolve()), "eos_ids": eos_token_ids(model, tokenizer),
                                   "context_length": getattr(model.config, "max_position_embeddings", None)})  # fmt: skip
    remove_stale_temps(gguf_file)  # left by a killed conversion
    handle, staging = tempfile.mkstemp(dir=gguf_file.parent, prefix=f".{gguf_file.name}.{os.getpid()}.", suffix=".tmp")
    os.close(handle)
    try:
        export_gguf(model, tokenizer, spec, Path(staging), GGUF_TYPE, name=model_dir.resolve().name)
        Path(staging).replace(gguf_file)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
