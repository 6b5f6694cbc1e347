"""What every benchmark records beside its numbers: the exact command, machine, versions, wall time.

Usage in a bench script:

    from common import BenchResult            # bench/ is run as `python bench/<name>.py`
    result = BenchResult("train_throughput")
    ... measure ...
    result.rows.append({...})
    result.write(markdown_body)               # bench/results/<name>.{md,json}
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SVAMP = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mcc-kd" / "SVAMP" / "train.json"
PACKAGES = ("cotdistill", "torch", "transformers", "accelerate", "peft", "sentence-transformers",
            "llama-cpp-python", "openai")


def machine() -> dict:
    """Enough to tell two machines apart when comparing figures."""
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


@dataclass
class BenchResult:
    name: str
    rows: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    rerender: bool = False  # the rows come from an earlier run: keep that run's command and wall time

    def earlier_run(self, results_dir: Path = RESULTS) -> dict:
        """The result file a re-render replaces ({} when this is not a re-render or there is none)."""
        previous = results_dir / f"{self.name}.json"
        return json.loads(previous.read_text()) if self.rerender and previous.is_file() else {}

    def write(self, markdown_body: str, results_dir: Path = RESULTS) -> Path:
        """Write <name>.json (rows + provenance) and <name>.md (provenance header + body) atomically."""
        results_dir.mkdir(parents=True, exist_ok=True)
        provenance = {
            "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
            "machine": machine(),
            "versions": versions(),
            "wall_time_s": round(time.perf_counter() - self.started, 1),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        earlier = self.earlier_run(results_dir)
        if earlier:
            run = {k: earlier.get(k) for k in ("command", "wall_time_s", "date")}
            provenance = {**provenance, **run, "rerendered": f"{provenance['command']} ({provenance['date']})"}
        payload = {"name": self.name, **provenance, **self.extra, "rows": self.rows}
        header = (f"# {self.name}\n\n- command: `{provenance['command']}`\n"
                  f"- machine: {json.dumps(provenance['machine'])}\n"
                  f"- versions: {json.dumps(provenance['versions'])}\n"
                  f"- wall time: {provenance['wall_time_s']} s ({provenance['date']})\n"
                  + (f"- re-rendered from the finished cells by `{provenance['rerendered']}`\n"
                     if "rerendered" in provenance else "") + "\n")
        for suffix, text in ((".json", json.dumps(payload, indent=2)), (".md", header + markdown_body)):
            target = results_dir / f"{self.name}{suffix}"
            tmp = target.with_suffix(suffix + ".tmp")
            tmp.write_text(text + "\n")
            tmp.replace(target)
        return results_dir / f"{self.name}.md"


def share(part: int, whole: int) -> str:
    """'3/4 (75%)', and '0/0 (0%)' where there is nothing to count."""
    return f"{part}/{whole} ({part / max(whole, 1):.0%})"


def cell_predictions(run_dir: Path, pattern: str = "*"):
    """(cell name, its eval.predictions.jsonl) for each evaluated cell of a run folder, in name order."""
    for cell in sorted((run_dir / "cells").glob(pattern)):
        predictions = cell / "eval.predictions.jsonl"
        if predictions.is_file():
            yield cell.name, predictions


def svamp_rows() -> list[dict]:
    """MCC-KD's SVAMP training questions, each with several teacher rationales (`output`); exits if absent."""
    if not SVAMP.is_file():
        sys.exit(f"real data {SVAMP} is absent (see ../shared/data/README.md); this benchmark needs it")
    return json.loads(SVAMP.read_text())


def write_svamp_curated(folder: Path, lines: list[tuple[str, dict, str]]) -> Path:
    """A curated folder (train.jsonl + manifest.json) of (record id, SVAMP row, one of its rationales) lines."""
    from cotdistill.records import Record

    records = [Record(id=record_id, question=row["instruction"].strip(), answer=str(row["label"]),
                      answer_type="numeric", rationales=[rationale.strip()]).to_json()
               for record_id, row, rationale in lines]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_text("\n".join(records) + "\n")
    (folder / "manifest.json").write_text(json.dumps({"task": "svamp-mcc", "answer_type": "numeric"}))
    return folder
