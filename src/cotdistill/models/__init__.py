"""Offline model sources: registered names, any local folder, or a hub id.

    from cotdistill.models import prepare, load_causal_lm
    model, tokenizer = load_causal_lm("tiny-llama")

Registered names: `smollm2-135m-instruct`, `minilm`, `tiny-llama` (see `sources`). Prepared
folders are cached under `$COTDISTILL_HOME/models/<name>` (default `~/.cache/cotdistill`).
"""

from cotdistill.models import sources as _sources  # noqa: F401  (registers the built-in models)
from cotdistill.models.loading import DECODE_DTYPES, DECODE_ENGINES, inference_device, load_causal_lm, load_encoder, resolve
from cotdistill.models.registry import (
    ModelInfo,
    ModelPackageMissing,
    get_model_info,
    is_prepared,
    list_models,
    models_home,
    prepare,
    prepared_path,
)

__all__ = [
    "DECODE_DTYPES",
    "DECODE_ENGINES",
    "ModelInfo",
    "ModelPackageMissing",
    "get_model_info",
    "is_prepared",
    "list_models",
    "inference_device",
    "load_causal_lm",
    "load_encoder",
    "models_home",
    "prepare",
    "prepared_path",
    "resolve",
]
