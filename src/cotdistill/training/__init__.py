"""Student training: one accelerate loop for every strategy, PST's semantic loss, LoRA via peft.

    from cotdistill.training import load_config, train
    out = train(load_config(data="curated/", strategy="pst", student="tiny-llama", out="runs/pst"))

The loop (and torch) is imported on first use, so the CLI can read the config cheaply.
"""

from cotdistill.training.config import TrainConfig, load_config

__all__ = ["TrainConfig", "TrainingError", "forward_losses", "load_config", "train"]


def __getattr__(name: str):
    if name in ("train", "TrainingError", "forward_losses"):
        from cotdistill.training import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'cotdistill.training' has no attribute '{name}'")
