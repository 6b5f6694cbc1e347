"""Student training: one accelerate loop for every strategy, PST's semantic loss, LoRA via peft.

    from cotdistill.training import load_config, train
    out = train(load_config(data="curated/", strategy="pst", student="tiny-llama", out="runs/pst"))

The loop (and torch) is imported on first use, so the CLI can read the config cheaply.
"""

from cotdistill.training.config import TrainConfig, load_config

__all__ = ["TrainConfig", "TrainingError", "forward_losses", "load_config", "train"]


def train(config: TrainConfig):
    """Train a student as configured; returns the output folder (model + tokenizer + cotdistill.json).

    The data, the output folder and (with resume) the match with the interrupted run are checked
    first (`cotdistill.training.preflight`), so a run fails before its compute, never after it.
    """
    from cotdistill.training import loop
    from cotdistill.training.preflight import preflight

    preflight(config)
    return loop.train(config)


def __getattr__(name: str):
    if name in ("TrainingError", "forward_losses"):
        from cotdistill.training import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'cotdistill.training' has no attribute '{name}'")
