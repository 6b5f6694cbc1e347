"""A local transformers model as the teacher: batched sampling with `num_return_sequences`.

Accepts a registered name (`smollm2-135m-instruct`), a local folder, a hub id, or a `.gguf` file
(dequantized by transformers). Concurrent requests are batched by `BatchingBackend`; on CPU the
forward passes run under bf16 autocast. Prompts with a system message (chat, rationalize) go
through the tokenizer's chat template when it has one; the others are plain text completions.
"""

from __future__ import annotations

from pathlib import Path

from cotdistill.teachers.base import BatchingBackend, Completion, Request
from cotdistill.teachers.prompts import cut_at_first


class TransformersBackend(BatchingBackend):
    name = "hf"

    def __init__(self, model: str, batch_size: int = 8, *, autocast_bf16: bool = True, device: str | None = None):
        super().__init__(model, batch_size=batch_size)
        self.autocast_bf16 = autocast_bf16
        self.device = device
        self._model = None
        self._tokenizer = None

    def key_fields(self) -> dict:
        return {"autocast_bf16": self.autocast_bf16}

    def _load(self):
        if self._model is None:
            import torch

            path = Path(self.model).expanduser()
            if path.suffix == ".gguf" and path.is_file():
                from transformers import AutoModelForCausalLM, AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
                model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
            else:
                from cotdistill.models import load_causal_lm

                model, tokenizer = load_causal_lm(self.model)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            tokenizer.padding_side = "left"  # generation continues from the right edge
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model, self._tokenizer = model.to(device).eval(), tokenizer
        return self._model, self._tokenizer

    def _text(self, request: Request, tokenizer) -> str:
        if request.prompt.system is not None and getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(request.prompt.messages(), tokenize=False, add_generation_prompt=True)
        return request.prompt.text

    def generate_batch(self, requests: list[Request]) -> list[list[Completion]]:
        import time

        import torch

        model, tokenizer = self._load()
        params, n = requests[0].params, requests[0].n
        texts = [self._text(r, tokenizer) for r in requests]
        from cotdistill.prompt_limits import check_prompt_lengths, prompt_cap

        # a pasted book as a question would otherwise generate without limit
        check_prompt_lengths(tokenizer, texts, [r.record.id for r in requests], prompt_cap(model, params.max_tokens),
                             "teacher prompts", flag="(the model's context)")
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        torch.manual_seed(requests[0].seed)
        sampling = params.temperature > 0
        options = dict(
            max_new_tokens=params.max_tokens,
            do_sample=sampling,
            num_return_sequences=n,
            pad_token_id=tokenizer.pad_token_id,
            **({"temperature": params.temperature, "top_p": params.top_p} if sampling else {}),
        )
        if params.stop:
            options.update(stop_strings=list(params.stop), tokenizer=tokenizer)
        started = time.perf_counter()
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast_bf16 and model.device.type == "cpu")
        with torch.inference_mode(), autocast:
            output = model.generate(**inputs, **options)
        latency = (time.perf_counter() - started) / len(requests)
        generated = output[:, inputs["input_ids"].shape[1]:]
        prompt_lengths = inputs["attention_mask"].sum(1).tolist()
        results = []
        for i in range(len(requests)):
            completions = []
            for row in generated[i * n:(i + 1) * n]:
                tokens = _until_eos(row.tolist(), tokenizer)
                text = cut_at_first(tokenizer.decode(tokens, skip_special_tokens=True), params.stop)
                completions.append(Completion(text=text, prompt_tokens=int(prompt_lengths[i]), completion_tokens=len(tokens), latency_s=latency))
            results.append(completions)
        return results


def _until_eos(tokens: list[int], tokenizer) -> list[int]:
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    for position, token in enumerate(tokens):
        if token in stops:
            return tokens[:position]
    return tokens
