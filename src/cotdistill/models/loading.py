"""Turn a model name, folder or hub id into a loaded model, offline-first and safetensors-only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cotdistill.errors import CotdistillError
from cotdistill.models.registry import is_registered, list_models, prepare

# `org/name` (optionally `org/name@revision` is not supported: pin revisions in a local folder).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve(name_or_path: str | Path) -> str:
    """A string that `from_pretrained` accepts for `name_or_path`.

    Registered names are prepared (built once, then cached); an existing local folder is returned
    as an absolute path; a hub id `org/name` passes through unchanged. Anything else (a path that
    does not exist, an unknown bare name) is an error saying what is accepted.
    """
    text = str(name_or_path)
    if is_registered(text):
        return str(prepare(text))
    path = Path(text).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.exists():
        raise CotdistillError(f"model path {path} is a file, not a model folder (config.json and weights)")
    looks_like_path = text.startswith(("/", ".", "~")) or not _HUB_ID.match(text) and "/" in text
    if looks_like_path:
        raise CotdistillError(
            f"model folder '{text}' does not exist. Check the path, or prepare a registered model "
            "(`cotdistill models list`)"
        )
    if _HUB_ID.match(text):
        return text  # whether it can load here is checked when it is loaded (unavailable_hub_id)
    names = ", ".join(info.name for info in list_models())
    raise CotdistillError(
        f"model '{text}' is neither a registered model ({names}), an existing folder, nor a hub id "
        "of the form org/name. Check the path, or run `cotdistill models list`"
    )


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def unavailable_hub_id(hub_id: str) -> str | None:
    """Why hub id `org/name` cannot be loaded here, known without the network; None if it may load.

    Offline (HF_HUB_OFFLINE=1), only what the local hub cache holds can load: anything else would
    end in a long connection traceback, so it is refused up front, naming the registered models."""
    if not _hub_offline():
        return None
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(hub_id, "config.json"), str):
        return None
    names = ", ".join(info.name for info in list_models())
    return (f"model '{hub_id}' is not a registered model ({names}) or a folder, and the hub is offline here "
            "(HF_HUB_OFFLINE=1) with no cached copy of it. Use a registered name or a local model folder, "
            "or download it where the hub is reachable")


def _load_failure(source: str, error: Exception) -> CotdistillError:
    """One line for a model that could not be loaded (not found, no network, not a model folder)."""
    first = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return CotdistillError(f"could not load model '{source}': {first}. Check the name (`cotdistill models list`), "
                           "the folder, or the network if it is a hub id")


# The weights' dtypes a student decodes in (eval, serve). float32 is the students' own; bfloat16 halves their memory and
# is faster batched on a CPU with bfloat16 matrix units, but may change a greedy answer where two tokens are nearly tied.
DECODE_DTYPES = ("float32", "bfloat16")
# What decodes a student: transformers (any device, sampling, batches) or llama.cpp on its f16 GGUF (the CPU, greedy).
DECODE_ENGINES = ("transformers", "llama.cpp")


def _as_dtype(dtype: Any):
    """Accept torch dtypes, their names ("bfloat16", "float32") and "auto"."""
    import torch

    if dtype is None or dtype == "auto" or isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise CotdistillError(f"unknown dtype '{dtype}'; use e.g. float32, bfloat16, float16 or auto")
    return resolved


def load_causal_lm(
    name_or_path: str | Path,
    dtype: Any = None,
    *,
    trust_remote_code: bool = False,
    **kwargs: Any,
):
    """(model, tokenizer) for a registered name, local folder or hub id.

    Weights are read from safetensors only (pass `use_safetensors=False` to override) and remote
    code is never run unless asked. A tokenizer without a pad token gets its EOS as pad, which
    batched training and generation need. `dtype=None` keeps the checkpoint's own dtype.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve(name_or_path)
    problem = unavailable_hub_id(source) if _HUB_ID.match(source) else None
    if problem:  # offline and not cached: one line now, instead of a long connection traceback
        raise CotdistillError(problem)
    kwargs.setdefault("use_safetensors", True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        if tokenizer.pad_token is None and tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=_as_dtype(dtype), trust_remote_code=trust_remote_code, **kwargs
        )
    except OSError as error:  # transformers' "not found / cannot connect / no weights" errors
        raise _load_failure(source, error) from error
    return model, tokenizer


def inference_device() -> str:
    """Where evaluation and serving run: the first CUDA GPU when torch sees one, else the CPU
    (training's device is accelerate's choice, which is the same one)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_encoder(name_or_path: str | Path = "minilm", *, device: str | None = None, **kwargs: Any):
    """A sentence-transformers encoder (default all-MiniLM-L6-v2), loaded without remote code."""
    from sentence_transformers import SentenceTransformer

    source = resolve(name_or_path)
    kwargs.setdefault("trust_remote_code", False)
    return SentenceTransformer(source, device=device, **kwargs)
