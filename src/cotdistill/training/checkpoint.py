"""Checkpoints: accelerate's full state (model, head, optimizer, scheduler, RNG) plus our step counter."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

STATE_FILE = "trainer_state.json"


def checkpoint_root(out: Path) -> Path:
    return out / "checkpoints"


def list_checkpoints(out: Path) -> list[Path]:
    """Complete checkpoints (their state file written last), oldest first."""
    root = checkpoint_root(out)
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if (p / STATE_FILE).is_file()]
    return sorted(found, key=checkpoint_step)


def checkpoint_step(folder: Path) -> int:
    """The optimizer step a checkpoint folder (step-N) was saved after."""
    return int(folder.name.split("-")[1])


def save_checkpoint(accelerator, out: Path, step: int, state: dict, keep: int) -> Path:
    """Save everything needed to continue after `step` optimizer steps; keep the newest `keep`."""
    from cotdistill.training.modeling import dropped_log_message

    folder = checkpoint_root(out) / f"step-{step}"
    # A tied output head (SmolLM2's lm_head is its embedding) is saved once and re-tied on loading, so
    # accelerate's "Removed shared tensor" warning at every checkpoint is nothing a user can act on.
    with dropped_log_message("accelerate.utils.other", "Removed shared tensor"):
        accelerator.save_state(str(folder))
    if accelerator.is_main_process:
        tmp = folder / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({**state, "step": step}, indent=1))
        os.replace(tmp, folder / STATE_FILE)
        for old in list_checkpoints(out)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return folder


def load_checkpoint(accelerator, folder: Path) -> dict:
    accelerator.load_state(str(folder))
    return json.loads((folder / STATE_FILE).read_text())
