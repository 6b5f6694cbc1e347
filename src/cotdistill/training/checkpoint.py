"""Checkpoints: accelerate's state (the trained weights, head, optimizer, scheduler, RNG) plus our step counter.

Only the weights training changes are saved: under LoRA the adapter, not the frozen base model (about 20 MB
of SmolLM2-135M's 570), which a resumed run loads from the student itself.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

STATE_FILE = "trainer_state.json"


def checkpoint_root(out: Path) -> Path:
    return out / "checkpoints"


def list_checkpoints(out: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    return [folder for folder in _step_folders(out) if is_complete(folder)]


def incomplete_checkpoints(out: Path) -> list[Path]:
    """Checkpoints interrupted while saving, or copied in part from another machine."""
    return [folder for folder in _step_folders(out) if not is_complete(folder)]


def is_complete(folder: Path) -> bool:
    """Its state file is written last and lists every other file with its size (older ones list none)."""
    try:
        files = json.loads((folder / STATE_FILE).read_text()).get("files", {})
    except (OSError, ValueError):
        return False
    return all((folder / name).is_file() and (folder / name).stat().st_size == size for name, size in files.items())


def _step_folders(out: Path) -> list[Path]:
    root = checkpoint_root(out)
    found = root.glob("step-*") if root.is_dir() else []
    return sorted((folder for folder in found if folder.name[len("step-"):].isdigit()), key=checkpoint_step)


def checkpoint_step(folder: Path) -> int:
    """The optimizer step a checkpoint folder (step-N) was saved after."""
    return int(folder.name.split("-")[1])


def save_checkpoint(accelerator, out: Path, step: int, state: dict, keep: int) -> Path:
    """Save everything needed to continue after `step` optimizer steps; keep the newest `keep`."""
    folder = checkpoint_root(out) / f"step-{step}"
    hook = accelerator.register_save_state_pre_hook(_drop_frozen_weights)
    try:
        accelerator.save_state(str(folder))
    finally:
        hook.remove()
    accelerator.wait_for_everyone()  # every process's random state is written before the state file lists it
    if accelerator.is_main_process:
        files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
        tmp = folder / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({**state, "step": step, "files": files}, indent=1))
        os.replace(tmp, folder / STATE_FILE)
        for old in list_checkpoints(out)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return folder


def load_checkpoint(accelerator, folder: Path, models: list) -> dict:
    """Load a checkpoint into the prepared `models` (in the order they were prepared) and the rest of the state."""
    from cotdistill.training.loop import TrainingError

    for index, model in enumerate(models):
        missing = sorted(_trained_names(model) - _saved_names(folder, index))
        if missing:
            raise TrainingError(f"{folder} lacks {len(missing)} trained weights of this student (e.g. {missing[0]}): saved by "
                                "another student or strategy, or cut short; remove OUT/checkpoints to train afresh")
    accelerator.load_state(str(folder), strict=False)  # strict=False: the frozen weights are the student's own
    return json.loads((folder / STATE_FILE).read_text())


def _drop_frozen_weights(models, weights, _output_dir) -> None:
    """accelerate's save hook: keep in each state dict only what training changes (edited in place)."""
    for model, state in zip(models, weights):
        trained = _trained_names(model)
        for name in [name for name in state if name not in trained]:
            del state[name]


def _trained_names(model) -> set[str]:
    # named_parameters lists a tied weight once (SmolLM2's head is its embedding): the other name is re-tied on loading
    return {name for name, parameter in model.named_parameters() if parameter.requires_grad}


def _saved_names(folder: Path, index: int) -> set[str]:
    from safetensors import safe_open

    path = folder / ("model.safetensors" if index == 0 else f"model_{index}.safetensors")  # accelerate's names
    if not path.is_file():
        return set()
    with safe_open(str(path), framework="pt") as handle:
        return set(handle.keys())
