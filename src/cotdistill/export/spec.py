"""What a served or exported student needs to know about its strategy: prompt, stops, separator.

Read from the model folder's cotdistill.json through `cotdistill.strategies`, exactly as
`cotdistill eval` does, so every consumer (transformers' generation_config.json, the GGUF's
metadata, the Ollama Modelfile, `cotdistill serve`) decodes the student the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cotdistill.records import Record

# Stands in for the question when the strategy's prompt is cut into the text before and after it.
_QUESTION_MARK = "\x00QUESTION\x00"


@dataclass(frozen=True)
class ServingSpec:
    """The decoding contract of one trained student."""

    strategy: str
    answer_first: bool
    prompt_prefix: str  # text before the question in the inference prompt
    prompt_suffix: str  # text after it ("\nAnswer:" by default)
    stop_strings: tuple[str, ...]  # what ends an answer (empty: run to EOS)
    explain_stop_strings: tuple[str, ...]  # what ends an output that includes the rationale
    separator: str | None  # answer-first with a rationale after it: the separator text (stripped)

    def prompt(self, question: str) -> str:
        """The inference prompt for a raw question (choices, if any, already in the text)."""
        return f"{self.prompt_prefix}{question.strip()}{self.prompt_suffix}"

    def stops(self, explain: bool = False) -> tuple[str, ...]:
        return self.explain_stop_strings if explain else self.stop_strings

    def metadata(self) -> dict:
        """The fields written into exported files (GGUF keys, generation_config comments, Modelfile)."""
        return {
            "strategy": self.strategy,
            "answer_first": self.answer_first,
            "prompt_template": self.prompt_prefix + "{question}" + self.prompt_suffix,
            "stop_strings": list(self.stop_strings),
            "separator": self.separator or "",
        }


def serving_spec(model_dir: str | Path) -> ServingSpec:
    """The ServingSpec of a folder written by `cotdistill train` (or `cotdistill export --format hf`)."""
    from cotdistill.strategies import read_model_metadata, strategy_from_metadata

    strategy = strategy_from_metadata(read_model_metadata(model_dir))
    return spec_of(strategy)


def spec_of(strategy) -> ServingSpec:
    marked = strategy.prompt(Record(id="spec", question=_QUESTION_MARK, answer="", answer_type="text"))
    prefix, _, suffix = marked.partition(_QUESTION_MARK)
    separator = getattr(strategy, "separator_text", None)
    return ServingSpec(
        strategy=strategy.name,
        answer_first=strategy.answer_first,
        prompt_prefix=prefix,
        prompt_suffix=suffix,
        stop_strings=tuple(strategy.stop_strings(explain=False)),
        explain_stop_strings=tuple(strategy.stop_strings(explain=True)),
        separator=separator,
    )
