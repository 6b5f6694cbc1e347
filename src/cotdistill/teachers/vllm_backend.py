"""The vLLM offline engine as the teacher (GPU machines): `SamplingParams(n=N)` per prompt.

Only used when `vllm` imports; it is not installable on the CPU machines this project is tested
on, so this path has no test here. Requests are batched like the transformers backend.
"""

from __future__ import annotations

from cotdistill.errors import CotdistillError
from cotdistill.teachers.base import BatchingBackend, Completion, Request


class VLLMBackend(BatchingBackend):
    name = "vllm"

    def __init__(self, model: str, batch_size: int = 64, **engine_options):
        try:
            import vllm  # noqa: F401
        except ImportError as error:
            raise CotdistillError("--teacher vllm needs the vllm package (a GPU machine: pip install vllm); "
                                  "or serve the model with `vllm serve` and use --teacher openai --base-url") from error
        super().__init__(model, batch_size=batch_size)
        self.engine_options = engine_options
        self._engine = None

    def _load(self):
        if self._engine is None:
            from vllm import LLM

            from cotdistill.models import resolve

            self._engine = LLM(model=resolve(self.model), **self.engine_options)
        return self._engine

    def generate_batch(self, requests: list[Request]) -> list[list[Completion]]:
        from vllm import SamplingParams

        engine = self._load()
        params = requests[0].params
        sampling = [
            SamplingParams(n=r.n, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
                           stop=list(params.stop) or None, seed=r.seed)
            for r in requests
        ]
        chat = [r for r in requests if r.prompt.system is not None]
        if chat and len(chat) == len(requests):
            outputs = engine.chat([r.prompt.messages() for r in requests], sampling, use_tqdm=False)
        else:
            outputs = engine.generate([r.prompt.text for r in requests], sampling, use_tqdm=False)
        results = []
        for output in outputs:
            prompt_tokens = len(output.prompt_token_ids or [])
            results.append([
                Completion(text=choice.text, prompt_tokens=prompt_tokens, completion_tokens=len(choice.token_ids),
                           finish_reason=choice.finish_reason)
                for choice in output.outputs
            ])
        return results
