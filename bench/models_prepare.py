"""Cold `prepare` time, folder size and load time of each registered model.

Run: .venv/bin/python bench/models_prepare.py   (writes bench/results/models_prepare.{md,json})
Each model is prepared into a fresh temporary COTDISTILL_HOME (tiny-llama first), in one process
(so the first model also pays for importing torch/transformers).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult  # noqa: E402


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    result = BenchResult("models_prepare")
    with tempfile.TemporaryDirectory() as home:
        os.environ["COTDISTILL_HOME"] = home
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from cotdistill.models import list_models, load_causal_lm, load_encoder, prepare

        # tiny-llama first: on a fresh machine it reads its tokenizer from the GGUF (no SmolLM2 folder yet)
        for info in sorted(list_models(), key=lambda m: m.name != "tiny-llama"):
            started = time.perf_counter()
            folder = prepare(info.name)
            prepare_s = time.perf_counter() - started
            loader = load_encoder if info.kind == "encoder" else load_causal_lm
            loader(info.name)  # first load pays one-off imports; time the second
            started = time.perf_counter()
            loaded = loader(info.name)
            load_s = time.perf_counter() - started
            model = loaded[0] if isinstance(loaded, tuple) else loaded
            result.rows.append({
                "model": info.name, "prepare_s": round(prepare_s, 1), "folder_mb": round(folder_mb(folder), 1),
                "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2), "load_s": round(load_s, 2),
            })
    lines = ["| model | cold prepare (s) | folder (MB) | parameters (M) | load (s) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['prepare_s']} | {r['folder_mb']} | {r['params_m']} | {r['load_s']} |" for r in result.rows]
    print("\n".join(lines))
    result.write("\n".join(lines) + "\n\nminilm is used in place from its package folder (no copy), so its prepare is free.\n")


if __name__ == "__main__":
    main()
