"""Fixtures for evaluation tests: overfit tiny-llama students, one per strategy (cached per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_students import overfit_student


@pytest.fixture(scope="session")
def overfit(tiny_llama, tmp_path_factory):
    """overfit(strategy_name, **options) -> model folder; cached per (strategy, options) for the session."""
    cache: dict = {}

    def make(strategy_name: str, **options) -> Path:
        key = (strategy_name, tuple(sorted(options.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"student-{strategy_name}")
            cache[key] = overfit_student(tiny_llama, folder / "model", strategy_name, **options)
        return cache[key]

    return make
