"""Strategies: how a Record (x, y, r) becomes prompt text, token sequences and loss masks.

    strategy = get_strategy("pst", semantic_weight=0.5)
    strategy.prompt(record)              # inference prompt
    strategy.stop_strings()              # [separator] for answer-first strategies (after training: "<|im_end|>")
    strategy.split_output(generated)     # (answer part, rationale part or None)
    strategy.encode(record, tokenizer)   # EncodedExample(s): input_ids + per-token loss kinds
    strategy_from_metadata(read_model_metadata(model_dir))   # at evaluation time
"""

from cotdistill.strategies.base import (
    ANSWER,
    PROMPT,
    RATIONALE,
    EncodedExample,
    LossSpec,
    Segment,
    Strategy,
)
from cotdistill.strategies.builtin import STRATEGIES, PST, AnswerOnly, PostThinking, PreThinking, Prefix
from cotdistill.strategies.registry import (
    METADATA_FILE,
    get_strategy,
    read_model_metadata,
    strategy_from_metadata,
)

__all__ = [
    "ANSWER", "PROMPT", "RATIONALE", "EncodedExample", "LossSpec", "Segment", "Strategy",
    "STRATEGIES", "PST", "AnswerOnly", "PostThinking", "PreThinking", "Prefix",
    "METADATA_FILE", "get_strategy", "read_model_metadata", "strategy_from_metadata",
]
