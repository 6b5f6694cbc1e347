"""Shared machinery of the real-data benchmarks (accuracy, scotd, robustness, pst_ablation, speed).

Each benchmark is a grid of cells (dataset x strategy x seed x noise x rationales per question),
run resumably (a finished cell with unchanged settings is skipped; a failed cell is recorded and
the others go on), each through the project's own stages, on real teacher data:

    task loader -> a seeded training subset (a dev slice held out) -> Record JSONL -> rationale store
    (`import_outputs`, format jsonl) -> `curate` (correct-only, dedup, k per question, noise, gold
    label) -> `train` (LoRA) -> `evaluate` on a seeded test subset -> bench/results/<name>.{md,json}

Nothing is tuned on the test split: `--split dev` evaluates on a dev slice instead (the last
questions of the train split, never trained on; svamp-mcc has its own dev split).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402
from cost import estimate_minutes  # noqa: E402
from report import first_characters, write_results  # noqa: E402

from cotdistill.files import write_json_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_WORK = Path(os.environ.get("COTDISTILL_HOME", Path.home() / ".cache" / "cotdistill")) / "bench"
STUDENT = "smollm2-135m-instruct"
STRATEGIES = ("answer-only", "pre-thinking", "post-thinking", "prefix", "pst")


@dataclass(frozen=True)
class Dataset:
    """A benchmark dataset: a registered task, and where its dev slice comes from."""

    task: str
    teacher: str
    dev_split: str | None  # the task's own dev split, else None: the last `dev_size` train questions
    dev_size: int
    description: str


DATASETS = {
    "svamp": Dataset("svamp", "palm-540b", None, 100, "SVAMP, one PaLM-540B rationale per question (DSS)"),
    "svamp-mcc": Dataset("svamp-mcc", "openai-chat", "dev", 150, "SVAMP, 10 teacher rationales per question (MCC-KD)"),
    "cqa": Dataset("cqa", "palm-540b", None, 300, "CommonsenseQA, one PaLM-540B rationale per question (DSS)"),
    "gsm8k": Dataset("gsm8k", "human", None, 300, "GSM8K, human-written step-by-step solutions"),
}


@dataclass(frozen=True)
class Scale:
    """How big a run is: questions, epochs, decoding budget. Recorded in every result file."""

    train_questions: int  # training questions per dataset (a seeded subset; the dev slice excluded)
    test_questions: int | None  # test (or dev) questions, a seeded subset; None = the whole split
    epochs: float
    lr: float = 3e-4
    batch_size: int = 8
    max_len: int = 384
    max_new_tokens: int = 192  # only pre-thinking (and --explain) decodes this far
    lora_r: int = 16


# Shared by every benchmark, so a cell two benchmarks have in common (same dataset, strategy, seed,
# noise, k and scale) is trained once. Both are sized by `estimate_minutes` for 2 CPU cores: quick is
# a smoke test (< 20 min per benchmark), full is < 3 h per benchmark. On a GPU, raise them with
# --train-questions / --test-questions / --epochs (recorded in the result files).
QUICK_SCALES = {
    "svamp": Scale(train_questions=100, test_questions=60, epochs=2, lr=5e-4, max_new_tokens=128),
    # k = 10 trains on ~10x the examples of k = 1 (as in SCoTD), so one epoch keeps quick mode quick
    "svamp-mcc": Scale(train_questions=50, test_questions=60, epochs=1, lr=5e-4, max_new_tokens=128),
    "cqa": Scale(train_questions=150, test_questions=60, epochs=2, lr=5e-4, max_new_tokens=128),
    "gsm8k": Scale(train_questions=100, test_questions=40, epochs=2, lr=5e-4, max_len=512, max_new_tokens=256),
}
FULL_SCALES = {
    "svamp": Scale(train_questions=250, test_questions=150, epochs=2, lr=5e-4, max_new_tokens=128),
    "svamp-mcc": Scale(train_questions=60, test_questions=None, epochs=1, lr=5e-4, max_new_tokens=128),
    "cqa": Scale(train_questions=300, test_questions=150, epochs=2, lr=5e-4, max_new_tokens=128),
    # 150/100 measured 42 min per seed, which put the grid over 3 h: 100/80 is estimated at ~28 min
    "gsm8k": Scale(train_questions=100, test_questions=80, epochs=2, lr=5e-4, max_len=512, max_new_tokens=256),
}


def scale_for(base: dict[str, Scale], overrides: argparse.Namespace) -> dict[str, Scale]:
    """Per-dataset scales, with any command-line overrides applied to every dataset."""
    changes = {k: getattr(overrides, k) for k in ("train_questions", "test_questions", "epochs", "lr")
               if getattr(overrides, k, None) is not None}
    return {name: replace(scale, **changes) for name, scale in base.items()}


# ---------------------------------------------------------------------------------------------
# Data: seeded subsets of real teacher data, never copied into the repository.


def load_split(name: str, split: str, data_dir: Path):
    from cotdistill.tasks import load_task

    return load_task(DATASETS[name].task, split, data_dir=data_dir)


def train_pool(name: str, data_dir: Path):
    """The train split minus its dev slice (the last `dev_size` questions when the task has no dev split)."""
    records = load_split(name, "train", data_dir)
    spec = DATASETS[name]
    return records if spec.dev_split else records[: len(records) - spec.dev_size]


def eval_records(name: str, split: str, size: int | None, data_dir: Path, seed: int = 0):
    """Test questions (or the dev slice with split="dev"): a seeded subset of `size`, in file order."""
    spec = DATASETS[name]
    if split == "dev":
        records = (load_split(name, spec.dev_split, data_dir) if spec.dev_split
                   else load_split(name, "train", data_dir)[-spec.dev_size:])
    else:
        records = load_split(name, "test", data_dir)
    return seeded_subset(records, size, seed)


def constant_baseline(name: str, settings: "Settings") -> dict:
    """Accuracy of always giving the most frequent gold answer of the training subset: the floor a
    student that learnt only the answer distribution reaches (small answer-first students can sit there).

    Also the best any one constant answer could score on the evaluated questions (`best_*`, read off
    their gold answers): a diagnostic ceiling for guessing, never used to choose anything. Where the
    training subset is small its commonest answer is a poor guess (GSM8K: "16"), and a student that
    guesses round numbers can beat the floor without solving anything."""
    from cotdistill.answers import is_correct

    scale = settings.scales[name]
    train = seeded_subset(train_pool(name, settings.data_dir), scale.train_questions, settings.data_seed)
    questions = eval_records(name, settings.split, scale.test_questions, settings.data_dir)
    hits = lambda answer: sum(is_correct(answer, r.answer, r.answer_type, r.choices) for r in questions)  # noqa: E731
    answer = Counter(r.answer for r in train).most_common(1)[0][0]
    best = max(dict.fromkeys(r.answer for r in questions), key=hits)
    return {"answer": answer, "accuracy": hits(answer) / len(questions), "n": len(questions),
            "best_answer": best, "best_accuracy": hits(best) / len(questions),
            **first_characters([r.answer for r in train], prefix="train_")}


def seeded_subset(records: list, size: int | None, seed: int) -> list:
    """`size` records chosen at random with `seed`, kept in their original order (all if size is None)."""
    if size is None or size >= len(records):
        return list(records)
    chosen = sorted(random.Random(seed).sample(range(len(records)), size))
    return [records[i] for i in chosen]


# ---------------------------------------------------------------------------------------------
# The pipeline the experiment runner drives: data -> train -> evaluate.


@dataclass
class Settings:
    """Everything about a benchmark run that is not a grid axis."""

    data_dir: Path
    work: Path
    student: str
    scales: dict[str, Scale]
    split: str = "test"  # or "dev"
    filter: str = "correct"  # curation: keep only rationales whose answer is right ("all": keep every one)
    noise_kind: str = "numbers"
    data_seed: int = 0
    keep_models: bool = False
    eval_batch_sizes: tuple[int, ...] = (8,)  # the first is the reported row; others add latency_b<N> fields
    lora: bool = True  # False: full fine-tuning (as fast as LoRA here: see cost.py)
    report_only: bool = False  # write the result files from finished cells; train nothing
    tag: str = ""  # appended to cell folder names when a benchmark evaluates differently (speed)


class RealDataPipeline:
    """The stages of one cell: curated real teacher data, a trained student, its evaluation."""

    def __init__(self, settings: Settings, log=print):
        self.s = settings
        self.log = log
        self._eval_cache: dict[str, list] = {}

    # -- data
    def training_data(self, cell) -> Path:
        """A curated folder (train.jsonl + manifest.json) for the cell's dataset, k and noise."""
        from cotdistill.curation import curate
        from cotdistill.store.importers import import_outputs

        name, scale = cell.dataset, self.s.scales[cell.dataset]
        subset = f"{name}-n{scale.train_questions}-seed{self.s.data_seed}"
        folder = self.s.work / "data" / subset
        records_file, store = folder / "records.jsonl", folder / "store.sqlite"
        if not store.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            records = seeded_subset(train_pool(name, self.s.data_dir), scale.train_questions, self.s.data_seed)
            mine = f".{os.getpid()}.tmp"  # benchmarks may run side by side: each writes its own, then renames
            tmp = records_file.with_suffix(mine)
            tmp.write_text("".join(r.to_json() + "\n" for r in records))
            tmp.replace(records_file)
            summary = import_outputs(store.with_suffix(mine), "jsonl", task=name, split="train",
                                     path=records_file, model=DATASETS[name].teacher)
            store.with_suffix(mine).replace(store)
            self.log(f"imported {summary.samples} rationales of {summary.questions} {name} questions "
                     f"({summary.correct} with the right answer, {summary.parse_errors} unparsed)")
        noise = f"{cell.noise:g}".replace(".", "p")
        out = folder / f"curated-{self.s.filter}-k{cell.samples_per_question}-noise{noise}-{self.s.noise_kind}"
        if not (out / "manifest.json").is_file():
            manifest = curate(store, out, task=name, split="train", filter=self.s.filter, dedup=True,
                              max_per_question=cell.samples_per_question, noise=cell.noise,
                              noise_kind=self.s.noise_kind, label="gold", seed=self.s.data_seed)
            counts = manifest["counts"]
            self.log(f"curated {out.name}: {counts['kept']} examples from {counts['questions_with_examples']} "
                     f"questions, dropped {counts['dropped']}, noised {counts['noised']}")
        return out

    # -- train
    def train(self, cell, data: Path, out: Path) -> dict:
        from cotdistill.training import load_config, train

        scale = self.s.scales[cell.dataset]
        shutil.rmtree(out, ignore_errors=True)  # a half-finished earlier attempt; the runner only retrains unfinished cells
        config = load_config(
            data=data, strategy=cell.strategy.name, student=self.s.student, out=out, lora=self.s.lora,
            lora_r=scale.lora_r, epochs=scale.epochs, lr=scale.lr, batch_size=scale.batch_size,
            max_len=scale.max_len, bf16=True, seed=cell.seed, report_to=[], progress=False,
            save_every=10**6, keep_checkpoints=1, **dict(cell.strategy.options),
        )
        train(config)
        shutil.rmtree(out / "checkpoints", ignore_errors=True)  # optimizer state: not needed to evaluate
        meta = json.loads((out / "cotdistill.json").read_text())
        examples = meta.get("data", {}).get("manifest", {}).get("counts", {}).get("kept")
        wall = meta.get("wall_s") or 0
        return {"examples": examples, "steps": meta.get("steps"), "train_tokens": meta.get("tokens"),
                "train_tokens_per_s": round(meta["tokens"] / wall, 1) if wall and meta.get("tokens") else None,
                "final_losses": meta.get("final_losses")}

    # -- evaluate
    def test_records(self, name: str) -> list:
        if name not in self._eval_cache:
            self._eval_cache[name] = eval_records(name, self.s.split, self.s.scales[name].test_questions,
                                                  self.s.data_dir)
        return self._eval_cache[name]

    def evaluate(self, cell, model_dir: Path, out: Path) -> dict:
        from cotdistill.evaluation.evaluate import EvalOptions, evaluate

        scale = self.s.scales[cell.dataset]
        records = self.test_records(cell.dataset)
        metrics = None
        for batch_size in self.s.eval_batch_sizes:
            options = EvalOptions(batch_size=batch_size, max_new_tokens=scale.max_new_tokens, similarity=False)
            target = out if metrics is None else out.with_name(f"eval_b{batch_size}.json")
            result = evaluate(model_dir, records=records, options=options, out=target)
            if metrics is None:
                metrics = result
            else:
                metrics.update({f"mean_latency_s_b{batch_size}": result["mean_latency_s"],
                                f"tokens_per_s_b{batch_size}": result["tokens_per_s"],
                                f"mean_generated_tokens_b{batch_size}": result["mean_generated_tokens"],
                                f"accuracy_b{batch_size}": result["accuracy"]})
        metrics["eval_split"] = self.s.split
        if not self.s.keep_models:
            for weights in model_dir.glob("*.safetensors"):
                weights.unlink()  # 0.5 GB each; cotdistill.json, logs and predictions stay
        return metrics

    def report(self):
        return None


# ---------------------------------------------------------------------------------------------
# Running a grid and writing its results.


@dataclass(frozen=True)
class Strategy:
    """A strategy column: a registered strategy, its options, and its label in the tables."""

    name: str
    label: str | None = None
    options: tuple = ()  # (key, value) pairs, e.g. (("rationale_weight", 0.1),)

    @property
    def id(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Cell:
    """One trained-and-evaluated student."""

    dataset: str
    strategy: Strategy
    seed: int
    noise: float = 0.0
    samples_per_question: int = 1

    @property
    def id(self) -> str:
        noise = f"{self.noise:g}".replace(".", "p")
        strategy = self.strategy.id.replace(" ", "_")  # a folder name
        return f"{self.dataset}__{strategy}__k{self.samples_per_question}__noise{noise}__seed{self.seed}"


def grid(datasets, strategies, seeds, noise=(0.0,), samples_per_question=(1,)) -> list[Cell]:
    """Every combination, in table order; strategies are names or Strategy objects."""
    strategies = [s if isinstance(s, Strategy) else Strategy(s) for s in strategies]
    # Seed-major order: if a run is cut short, its finished cells still compare every strategy.
    return [Cell(d, s, seed, p, k) for d in datasets for seed in seeds for p in noise
            for k in samples_per_question for s in strategies]


def cell_key(cell: Cell, settings: Settings) -> str:
    """A hash of everything that changes the cell's result: a changed setting re-runs it."""
    parts = [asdict(cell), settings.student, asdict(settings.scales[cell.dataset]), settings.split,
             settings.filter, settings.noise_kind, settings.data_seed, list(settings.eval_batch_sizes)]
    if not settings.lora:
        parts.append("full-finetune")  # (added only when set, so LoRA cells keep their keys)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_grid(name: str, cells: list[Cell], settings: Settings, on_row=None) -> list[dict]:
    """Run (or resume: finished cells with the same settings are skipped) every cell; one row per cell.

    A failed cell is recorded (error.json with the traceback) and the others still run. A cell that
    another benchmark process is training right now (its lock file names a live process) is put off
    to the end and then waited for, so benchmarks sharing cells can run side by side. The experiment
    runner of `cotdistill run` does the same bookkeeping for teacher-sampled grids; real teacher data
    needs this pipeline's import step, so the loop is kept here, small.
    """
    # One folder of cells for every benchmark: a cell that two benchmarks share (same id, same
    # settings: e.g. the default pst of accuracy, robustness and pst_ablation) is trained once.
    run_dir = settings.work / f"cells-{settings.split}"
    pipeline = RealDataPipeline(settings)
    started, results = time.perf_counter(), {}
    queue, deferred = list(enumerate(cells, 1)), set()
    while queue:
        number, cell = queue.pop(0)
        key = cell_key(cell, settings)
        folder = cell_folder(run_dir, cell.id + settings.tag, key)
        prefix = f"[{number}/{len(cells)}] {cell.id}"
        done = _read(folder / "result.json")
        if done is not None and done.get("key") == key:
            print(f"{prefix}: done already, skipped", flush=True)
            row = {k: v for k, v in done.items() if k != "key"}
        elif settings.report_only:
            continue  # not finished: left out of the tables (the files say how many cells are in)
        elif _locked_by_other(folder):
            if number not in deferred:
                deferred.add(number)
                queue.append((number, cell))
                print(f"{prefix}: another benchmark is running it; coming back to it later", flush=True)
                continue
            while _locked_by_other(folder):
                time.sleep(20)
            queue.insert(0, (number, cell))  # finished (or died) elsewhere: look again
            continue
        else:
            row = _run_locked(pipeline, cell, folder, key, prefix)
        results[number] = {**_from_predictions(folder), **row}
        if on_row is not None and queue:
            on_row([results[i] for i in sorted(results)], len(cells))  # partial results while the rest runs
    print(f"{name}: {len(cells)} cells in {time.perf_counter() - started:.0f} s; cells in {run_dir}", flush=True)
    return [results[i] for i in sorted(results)]


def cell_folder(run_dir: Path, cell_id: str, key: str) -> Path:
    """The cell's folder, named by id and settings key: a run at another scale (--epochs 4, say)
    gets its own folder instead of retraining over the cell it would otherwise share a name with."""
    folder = run_dir / f"{cell_id}__{key[:8]}"
    legacy = run_dir / cell_id  # cells finished before folders carried the key: adopted, not retrained
    if not folder.exists() and (_read(legacy / "result.json") or {}).get("key") == key:
        legacy.rename(folder)
    return folder


def _locked_by_other(folder: Path) -> bool:
    try:
        pid = int((folder / "lock").read_text())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False  # a stale lock of a dead run
    return True


def _run_locked(pipeline: RealDataPipeline, cell: Cell, folder: Path, key: str, prefix: str) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lock").write_text(str(os.getpid()))
    try:
        return _run_cell(pipeline, cell, folder, key, prefix)
    finally:
        (folder / "lock").unlink(missing_ok=True)


def _run_cell(pipeline: RealDataPipeline, cell: Cell, folder: Path, key: str, prefix: str) -> dict:
    """Data, train, evaluate; result.json written last marks the cell done. Returns its row."""
    (folder / "error.json").unlink(missing_ok=True)
    stage, t0 = "data", time.perf_counter()
    try:
        data = pipeline.training_data(cell)
        stage = "train"
        print(f"{prefix}: training on {data}", flush=True)
        trained = pipeline.train(cell, data, folder / "model")
        trained["train_seconds"] = round(time.perf_counter() - t0, 1)
        stage = "eval"
        metrics = pipeline.evaluate(cell, folder / "model", folder / "eval.json")
    except Exception as error:  # recorded; the other cells still run
        write_json_atomic(folder / "error.json", {"stage": stage, "error": type(error).__name__, "message": str(error),
                                       "traceback": traceback.format_exc()})
        print(f"{prefix}: FAILED during {stage}: {type(error).__name__}: {error}", flush=True)
        return {**_row_base(cell), "status": "failed", "stage": stage, "error": f"{type(error).__name__}: {error}"}
    done = {"key": key, **_row_base(cell), **{k: metrics.get(k) for k in ROW_FIELDS}, **_extra_fields(metrics),
            "train_examples": trained.get("examples"), "train_seconds": trained["train_seconds"],
            "train_tokens_per_s": trained.get("train_tokens_per_s"), "final_losses": trained.get("final_losses"),
            "cell_seconds": round(time.perf_counter() - t0, 1), "status": "ok"}
    write_json_atomic(folder / "result.json", done)
    print(f"{prefix}: accuracy {done['accuracy']:.3f} (n={done['n']}), "
          f"{done['mean_generated_tokens']:.1f} tokens/q, {done['cell_seconds']:.0f} s", flush=True)
    return {k: v for k, v in done.items() if k != "key"}


def _row_base(cell: Cell) -> dict:
    return {"dataset": cell.dataset, "strategy": cell.strategy.id, "strategy_name": cell.strategy.name,
            "options": dict(cell.strategy.options), "seed": cell.seed, "noise": cell.noise,
            "samples_per_question": cell.samples_per_question, "cell_id": cell.id}


ROW_FIELDS = ("n", "accuracy", "ci95", "mean_generated_tokens", "mean_latency_s", "tokens_per_s", "unparsed",
              "eval_split", "distinct_answers", "top_answer", "top_answer_share", "mean_answer_nll")


def _from_predictions(folder: Path) -> dict:
    """What a finished cell's saved predictions show: the answer spread (for cells evaluated before
    evaluate() reported it) and the first-character collapse."""
    from cotdistill.evaluation.metrics import answer_spread

    try:
        lines = (folder / "eval.predictions.jsonl").read_text().splitlines()
    except OSError:
        return {}
    predicted = [json.loads(line)["predicted"] for line in lines if line.strip()]
    return {**answer_spread(predicted), **first_characters(predicted)}


def _extra_fields(result: dict) -> dict:
    return {k: v for k, v in result.items() if k.endswith(("_b1", "_b8", "_b16", "_b32"))}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_and_write(name: str, cells: list[Cell], settings: Settings, args, claims, notes: str = "") -> list[dict]:
    """Run the grid, rewriting the result files after every cell (a cut-short run leaves its partial table)."""
    baselines = {d: constant_baseline(d, settings) for d in settings.scales}  # once: it reloads the task data
    descriptions = {d: DATASETS[d].description for d in settings.scales}

    def partial(rows: list[dict], total: int) -> None:
        note = f"**Partial: {len(rows)} of {total} cells finished so far; the run is still going.**\n\n"
        write_results(name, rows, settings, args, claims(rows), baselines, descriptions, note + notes, quiet=True)

    if not settings.report_only:
        minutes = estimate_minutes(cells, settings.scales, settings.eval_batch_sizes)
        print(f"{name}: {len(cells)} cells, about {minutes:.0f} min on 2 idle CPU "
              f"cores if none is cached; work folder {settings.work}", flush=True)
    rows = run_grid(name, cells, settings, on_row=None if settings.report_only else partial)
    if len(rows) < len(cells):
        notes = f"**Partial: {len(rows)} of {len(cells)} cells finished so far.**\n\n" + notes
    write_results(name, rows, settings, args, claims(rows), baselines, descriptions, notes)
    return rows


# ---------------------------------------------------------------------------------------------
# Command line shared by every benchmark.


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="Smoke scale: under 20 minutes on 2 CPU cores.")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("COTDISTILL_DATA", DEFAULT_DATA)),
                   help="The shared real-data folder (default ../shared/data or $COTDISTILL_DATA).")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK,
                   help="Where run folders, curated data and models go (default $COTDISTILL_HOME/bench).")
    p.add_argument("--student", default=STUDENT, help="Student model (a registered name or folder); "
                   "e.g. tiny-llama for a dry run of the machinery.")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="Training seeds (default per benchmark).")
    p.add_argument("--split", choices=("test", "dev"), default="test",
                   help="Evaluate on the test split, or on the dev slice of train (for any tuning).")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cpu hides any GPU; cuda lets accelerate train on it.")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own; 1 is faster on a crowded machine).")
    p.add_argument("--train-questions", type=int, default=None, help="Override training questions per dataset.")
    p.add_argument("--test-questions", type=int, default=None, help="Override evaluation questions per dataset.")
    p.add_argument("--epochs", type=float, default=None, help="Override epochs.")
    p.add_argument("--lr", type=float, default=None, help="Override the learning rate.")
    p.add_argument("--filter", choices=("correct", "all"), default="correct", help="Curation filter.")
    p.add_argument("--full-finetune", action="store_true", help="Train all weights instead of LoRA adapters.")
    p.add_argument("--keep-models", action="store_true", help="Keep trained weights (0.5 GB per cell).")
    p.add_argument("--report-only", action="store_true",
                   help="Rewrite the result files from the cells finished so far; train and evaluate nothing.")
    p.add_argument("--results", type=Path, default=RESULTS, help="Where <name>.{md,json} go (default bench/results).")
    p.add_argument("--name", default=None, help="Result name (default: the benchmark's; '-dev' added with --split dev).")
    return p


def setup(args, default_name: str, datasets: list[str], tag: str = "",
          eval_batch_sizes: tuple[int, ...] = (8,)) -> tuple[Settings, str] | None:
    """Settings from the command line; None (after saying why) when the real data folder is absent."""
    args.started = time.perf_counter()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.data_dir.is_dir():
        print(f"SKIPPED: real data folder {args.data_dir} is absent (pass --data-dir or set COTDISTILL_DATA); "
              "nothing was run or written.")
        return None
    base = QUICK_SCALES if args.quick else FULL_SCALES
    scales = scale_for({d: base[d] for d in datasets}, args)
    if args.full_finetune and args.lr is None:  # the LoRA learning rates are ~10x too high for all weights
        scales = {d: replace(sc, lr=sc.lr / 10) for d, sc in scales.items()}
    # quick and full results sit side by side: a quick run never overwrites the full tables
    name = args.name or default_name + ("-quick" if args.quick else "") + ("-dev" if args.split == "dev" else "")
    settings = Settings(data_dir=args.data_dir, work=args.work / ("quick" if args.quick else "full"),
                        student=args.student, scales=scales, split=args.split, filter=args.filter,
                        keep_models=args.keep_models, lora=not args.full_finetune, report_only=args.report_only,
                        tag=tag + ("__full" if args.full_finetune else ""), eval_batch_sizes=eval_batch_sizes)
    if args.student != STUDENT:
        name += f"-{Path(args.student).name}"
    if args.full_finetune:
        name += "-full-finetune"
    return settings, name


def default_seeds(quick: bool, seeds: list[int] | None = None) -> list[int]:
    """The seeds asked for, else one in quick mode (to stay under 20 minutes) and two in full mode."""
    return seeds or ([0] if quick else [0, 1])


def default_datasets(quick: bool, datasets: list[str] | None = None) -> list[str]:
    """The datasets asked for, else SVAMP alone in quick mode and SVAMP, CQA and GSM8K in full mode."""
    return datasets or (["svamp"] if quick else ["svamp", "cqa", "gsm8k"])


def datasets_of(cells: list[Cell]) -> list[str]:
    return list(dict.fromkeys(c.dataset for c in cells))
