"""The transformers backend on a real (tiny, randomly initialised) Llama: batching and storage."""

from __future__ import annotations

import pytest

from cotdistill.records import Record
from cotdistill.store import RationaleStore
from cotdistill.teachers import SamplingParams, TeachConfig, teach
from cotdistill.teachers.hf import TransformersBackend

QUESTIONS = [Record(id=f"q{i}", question=f"What is {i} + {i}?", answer=str(2 * i), answer_type="numeric") for i in range(4)]


@pytest.mark.slow
def test_batched_sampling_fills_the_store(tmp_path, tiny_llama):
    config = TeachConfig(task="toy", teacher="hf", model=str(tiny_llama), store=tmp_path / "s.sqlite", samples=3,
                         prompt="zero-shot-cot", params=SamplingParams(temperature=1.0, max_tokens=8), batch_size=4)
    backend = TransformersBackend(str(tiny_llama), batch_size=4)
    summary = teach(config, records=QUESTIONS, backend=backend, progress=False)
    assert summary.new_samples == 12 and summary.failed_samples == 0
    # stage 1: the four n=3 requests go in one batch; stage 2 (answer extraction): 12 greedy n=1 requests
    assert backend.stats.requests == 4 + 12 and backend.batches <= 1 + 3
    with RationaleStore(tmp_path / "s.sqlite") as db:
        samples = list(db.samples())
    assert len({(s.qid, s.sample_index) for s in samples}) == 12
    # a random tiny model writes nonsense: unparseable samples are kept with their error, never dropped
    assert all(s.raw and s.completion_tokens is not None and s.prompt_tokens > 0 for s in samples)
    assert all((s.answer is None) == (s.parse_error is not None) for s in samples)
    assert len({s.raw for s in samples}) > 1  # sampling, not 12 copies of one string
    again = teach(config, records=QUESTIONS, backend=TransformersBackend(str(tiny_llama)), progress=False)
    assert again.requests == 0 and again.already_stored == 12
