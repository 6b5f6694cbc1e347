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
    from cotdistill.training.modeling import dropped_log_message

    folder = checkpoint_root(out) / f"step-{step}"
    # A tied output head (SmolLM2's lm_head is its embedding) is saved once and re-tied on loading, so
    # accelerate's "Removed shared tensor" warning at every checkpoint is nothing a user can act on.
    with dropped_log_message("accelerate.utils.other", "Removed shared tensor"):
        accelerator.save_state(str(folder))
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


def load_checkpoint(accelerator, folder: Path) -> dict:
    accelerator.load_state(str(folder))
    return json.loads((folder / STATE_FILE).read_text())
