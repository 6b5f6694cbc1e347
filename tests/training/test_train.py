"""The training loop end to end on the tiny random Llama (SmolLM2 tokenizer) and a small curated folder."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from cotdistill.records import Record
from cotdistill.strategies import STRATEGIES, get_strategy, read_model_metadata, strategy_from_metadata
from cotdistill.training import TrainingError, forward_losses, load_config, train
from cotdistill.training.data import collate, read_curated

FAST = dict(batch_size=8, max_len=96, report_to=[], progress=False, seed=0)


def fixed_batch_ce(model_dir, strategy, records, n: int = 8) -> float:
    """The strategy's CE loss on the first n records, with the model and tokenizer in model_dir."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples = [e for r in records[:n] for e in strategy.encode(r, tokenizer, 96)]
    with torch.no_grad():
        parts = forward_losses(model, collate(examples, tokenizer.pad_token_id), strategy)
    return parts["answer_ce"].item() if strategy.name == "pst" else parts["loss"].item()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_each_strategy_trains_and_loss_falls(name, curated, tiny_llama, minilm, tmp_path):
    records, _ = read_curated(curated)
    strategy = get_strategy(name)
    before = fixed_batch_ce(tiny_llama, strategy, records)
    options = {"sem_cache_dir": tmp_path / "cache"} if name == "pst" else {}
    config = load_config(data=curated, strategy=name, student="tiny-llama", out=tmp_path / "out",
                         max_steps=6, lr=3e-3, **options, **FAST)  # fmt: skip
    out = train(config)
    after = fixed_batch_ce(out, strategy_from_metadata(read_model_metadata(out)), records)
    assert after < before - 0.5, (before, after)

    meta = read_model_metadata(out)
    assert meta["strategy"]["name"] == name and meta["answer_type"] == "numeric" and meta["steps"] == 6
    assert meta["prompt_template"] == strategy.prompt_template
    assert meta["base_model"]["name"] == "tiny-llama" and meta["lora"] is None
    assert set(meta["final_losses"]) >= {"loss", "answer_ce", "rationale_ce"}
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == list(range(1, 7)) and log[-1]["tokens_per_s"] > 0
    if name == "pst":
        assert (out / "semantic_head.safetensors").is_file() and "semantic" in log[0]
        assert meta["data"]["semantic_targets_computed"] == 48  # every rationale is distinct


def test_pst_semantic_loss_falls_with_only_head_and_marker_training(curated, tiny_llama, minilm, tmp_path, capfd, caplog):
    from transformers.utils.logging import warning_once

    from cotdistill.training.loop import _semantic_setup
    from cotdistill.training.modeling import load_student
    from cotdistill.training.data import encode_records

    config = load_config(data=curated, strategy="pst", student="tiny-llama", out=tmp_path / "o",
                         new_separator_token=True, sem_cache_dir=tmp_path / "cache", **FAST)  # fmt: skip
    strategy = get_strategy("pst", new_separator_token=True)
    warning_once.cache_clear()  # transformers says a message once per process: this test must see the first
    model, tokenizer, (marker_id,), source = load_student(config, strategy)
    # the new separator's row starts at the mean of the others, by our choice: transformers' notice is not printed
    assert "new embeddings" not in capfd.readouterr().err + caplog.text
    examples, _ = encode_records(strategy, read_curated(curated)[0][:8], tokenizer, 96)
    head, table = _semantic_setup(config, strategy, model, tokenizer, source, examples)
    batch = collate(examples, tokenizer.pad_token_id, table.rows)

    for parameter in model.parameters():
        parameter.requires_grad_(False)
    embedding = model.get_input_embeddings().weight
    embedding.requires_grad_(True)
    only_marker = torch.zeros_like(embedding)
    only_marker[marker_id] = 1.0
    embedding.register_hook(lambda grad: grad * only_marker)
    initial = embedding.detach().clone()

    optimizer = torch.optim.AdamW([embedding, *head.parameters()], lr=3e-2, weight_decay=0.0)
    losses = []
    for _ in range(12):
        sem = forward_losses(model, batch, strategy, head, table.matrix)["semantic"]
        optimizer.zero_grad()
        sem.backward()
        optimizer.step()
        losses.append(sem.item())
    assert losses[-1] < 0.5 * losses[0], losses
    changed = (embedding.detach() != initial).any(dim=1).nonzero().flatten().tolist()
    assert changed == [marker_id]


def test_semantic_targets_are_cached_and_centroids_shared(tmp_path):
    from cotdistill.training.semantic import target_table

    calls = []

    def encoder(texts):
        calls.append(list(texts))
        return torch.tensor([[float(len(t)), 1.0] for t in texts])

    rationales, groups = ["a b", "c", "a b", "dd"], ["q1", "q1", "q2", "q2"]
    first = target_table(rationales, groups, encoder, "fake", tmp_path, centroid=False)
    assert first.computed == 3 and calls == [["a b", "c", "dd"]]
    assert first.rows[0] == first.rows[2]
    again = target_table(rationales, groups, encoder, "fake", tmp_path, centroid=True)
    assert again.computed == 0 and len(calls) == 1  # nothing recomputed
    assert again.rows == [0, 0, 1, 1] and torch.allclose(again.matrix.norm(dim=1), torch.ones(2))


def test_minilm_targets_need_no_encoder_once_cached(tmp_path, monkeypatch):
    """The cache is keyed by the registered name, not the package's path, and the encoder loads only
    for what is missing: a run on another machine with the cache file needs no encoder."""
    import cotdistill.models
    from cotdistill.training.semantic import minilm_encoder, target_table

    loads = []
    monkeypatch.setattr(cotdistill.models, "resolve", lambda name: f"/installed/{name}")
    monkeypatch.setattr(cotdistill.models, "load_encoder", lambda *a, **k: loads.append(a) or FakeEncoder())
    encoder, identity = minilm_encoder("minilm")
    assert identity == "sentence-transformers:minilm" and loads == []
    target_table(["r one", "r two"], ["q1", "q2"], encoder, identity, tmp_path, centroid=False)
    assert len(loads) == 1
    encoder, identity = minilm_encoder("minilm")
    assert target_table(["r two"], ["q2"], encoder, identity, tmp_path, centroid=False).computed == 0
    assert len(loads) == 1  # all cached: never loaded


class FakeEncoder:
    def encode(self, texts, **_):
        return torch.tensor([[float(len(t)), 1.0] for t in texts])


@pytest.mark.parametrize("lora", [True, False], ids=["lora", "full"])
def test_resumed_run_matches_uninterrupted(lora, curated, tiny_llama, tmp_path, caplog):
    from safetensors import safe_open

    config = load_config(data=curated, strategy="post-thinking", student="tiny-llama", out=tmp_path / "run",
                         lora=lora, lora_r=4, lora_dropout=0.1, max_steps=4, save_every=2, lr=1e-3, **FAST)  # fmt: skip
    out = train(config)
    assert json.loads((out / "cotdistill.json").read_text())["resumed_from"] is None
    uninterrupted = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    with safe_open(str(out / "checkpoints" / "step-2" / "model.safetensors"), framework="pt") as saved:
        names = set(saved.keys())
    # what training changes, and only that: under LoRA the adapter, not the frozen base
    assert names and all(("lora_" in name) == lora for name in names)
    # Interrupt after step 2: drop everything written later, as a crash would have.
    shutil.rmtree(out / "checkpoints" / "step-4")
    (out / "cotdistill.json").unlink()
    state = out / "checkpoints" / "step-2" / "trainer_state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "wall_s": 1000.0}))  # as if steps 1-2 took 1000 s
    train(config.model_copy(update={"resume": True}))
    meta = json.loads((out / "cotdistill.json").read_text())
    assert meta["wall_s"] >= 1000 and meta["resumed_from"] == {"step": 2, "wall_s": 1000.0}  # the time before counts
    resumed = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    for key in ("loss", "answer_ce", "rationale_ce"):
        assert resumed[2][key] == pytest.approx(uninterrupted[2][key], abs=1e-6)
        assert resumed[3][key] == pytest.approx(uninterrupted[3][key], abs=1e-6)
    # tiny-llama's head is tied to its embedding: saved once, re-tied on loading (the match above), unannounced
    assert "Removed shared tensor" not in caplog.text


@pytest.mark.parametrize("lora", [True, False], ids=["lora", "full"])
def test_activation_checkpointing_trains_the_same_student(lora, curated, tiny_llama, tmp_path, monkeypatch, capfd):
    import transformers.modeling_utils as modeling_utils

    recomputed_layers = []

    def counting_checkpoint(function, *args, **kwargs):
        recomputed_layers.append(function)
        return torch_checkpoint(function, *args, **kwargs)

    torch_checkpoint = modeling_utils.checkpoint
    monkeypatch.setattr(modeling_utils, "checkpoint", counting_checkpoint)
    logs = {}
    for checkpointing in (False, True):
        config = load_config(data=curated, strategy="post-thinking", student="tiny-llama", out=tmp_path / str(checkpointing),
                             lora=lora, lora_r=4, lora_dropout=0.1, max_steps=3, lr=1e-3,
                             activation_checkpointing=checkpointing, **FAST)  # fmt: skip
        out = train(config)
        logs[checkpointing] = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
        assert bool(recomputed_layers) == checkpointing  # the layers ran under torch's checkpoint only when asked
    # dropout draws the same masks when a layer is recomputed, so every step's loss is the same
    for plain, checkpointed in zip(logs[False], logs[True]):
        assert checkpointed["loss"] == pytest.approx(plain["loss"], abs=1e-5)
    assert logs[True][-1]["loss"] != pytest.approx(logs[True][0]["loss"], abs=1e-3)  # and it did train
    assert "use_cache" not in capfd.readouterr().err  # transformers' notice, nothing a user can act on


def test_a_run_resumes_with_activation_checkpointing_turned_on(curated, tiny_llama, tmp_path):
    """Checkpointing changes memory, not the student: a run that ran out of memory continues with it on,
    and so do checkpoints whose run-settings.json predates the setting."""
    config = load_config(data=curated, strategy="pre-thinking", student="tiny-llama", out=tmp_path / "run",
                         lora=True, lora_r=4, max_steps=4, save_every=2, lr=1e-3, **FAST)  # fmt: skip
    out = train(config)
    assert "activation_checkpointing" not in json.loads((out / "checkpoints" / "run-settings.json").read_text())
    uninterrupted = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    shutil.rmtree(out / "checkpoints" / "step-4")
    (out / "cotdistill.json").unlink()
    train(config.model_copy(update={"resume": True, "activation_checkpointing": True}))
    resumed = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert json.loads((out / "cotdistill.json").read_text())["resumed_from"]["step"] == 2
    assert [r["loss"] for r in resumed[2:]] == pytest.approx([r["loss"] for r in uninterrupted[2:]], abs=1e-5)


def test_a_checkpoint_cut_short_or_copied_in_part_is_not_resumed_from(curated, tiny_llama, tmp_path, capfd):
    config = load_config(data=curated, strategy="pre-thinking", student="tiny-llama", out=tmp_path / "run",
                         lora=True, lora_r=4, max_steps=4, save_every=2, lr=1e-3, **FAST)  # fmt: skip
    out = train(config)
    log = out / "train_log.jsonl"
    uninterrupted = [json.loads(line) for line in log.read_text().splitlines()]
    weights = out / "checkpoints" / "step-4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # as a transfer with a size limit leaves it
    (out / "cotdistill.json").unlink()
    capfd.readouterr()
    train(config.model_copy(update={"resume": True}))
    printed = capfd.readouterr().out
    assert f"not resuming from {out / 'checkpoints' / 'step-4'}" in printed and "resumed from" in printed
    assert "step-2 (step 2 of 4)" in printed
    resumed = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in uninterrupted], abs=1e-6)
    # with no checkpoint whole, training starts again from step 1, its log too (no lines of the first attempt)
    for folder in (out / "checkpoints").glob("step-*"):
        (folder / "optimizer.bin").unlink()
    (out / "cotdistill.json").unlink()
    train(config.model_copy(update={"resume": True}))
    assert "resumed from" not in capfd.readouterr().out
    again = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in again] == [1, 2, 3, 4]
    assert [r["loss"] for r in again] == pytest.approx([r["loss"] for r in uninterrupted], abs=1e-6)


def test_a_checkpoint_without_the_students_trained_weights_is_refused(curated, tiny_llama, tmp_path):
    from safetensors.torch import load_file, save_file

    config = load_config(data=curated, strategy="pre-thinking", student="tiny-llama", out=tmp_path / "run",
                         lora=True, lora_r=4, max_steps=2, save_every=2, lr=1e-3, **FAST)  # fmt: skip
    out = train(config)
    (out / "cotdistill.json").unlink()
    folder = out / "checkpoints" / "step-2"
    weights = load_file(folder / "model.safetensors")
    lost = sorted(weights)[0]
    save_file({name: w for name, w in weights.items() if name != lost}, folder / "model.safetensors")
    state = json.loads((folder / "trainer_state.json").read_text())
    del state["files"]  # as checkpoints were written before they listed their files
    (folder / "trainer_state.json").write_text(json.dumps(state))
    with pytest.raises(TrainingError, match=f"lacks 1 trained weights of this student \\(e.g. {lost}\\)"):
        train(config.model_copy(update={"resume": True}))


def test_prefix_trains_both_tasks_in_every_step(curated, tiny_llama, tmp_path):
    """Distilling step-by-step's loss a * CE(label) + (1 - a) * CE(rationale) on the same questions each step.

    Sorting the sequences by length used to put the label and the rationale sequences in separate
    batches, so each step trained one task (coin flip's prefix student never learnt). Now a step holds
    batch_size records with both their sequences, cut into two micro-batches whose parts add up to
    the loss of the step as one batch.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cotdistill.training.data import encode_records, length_grouped_batches

    config = load_config(data=curated, strategy="prefix", student="tiny-llama", out=tmp_path / "out",
                         epochs=1, lr=1e-3, **FAST)  # fmt: skip
    out = train(config)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 6  # 48 records in batches of 8, not 96 sequences in batches of 8
    assert all(row["answer_ce"] > 0 and row["rationale_ce"] > 0 for row in log)

    strategy = get_strategy("prefix")
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    examples, _ = encode_records(strategy, read_curated(curated)[0], tokenizer, FAST["max_len"])
    lengths, records = [len(e) for e in examples], [e.record_index for e in examples]
    first = length_grouped_batches(lengths, 8, FAST["seed"], 0, records)[0]
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    with torch.no_grad():
        whole = forward_losses(model, collate([examples[i] for i in first], tokenizer.pad_token_id), strategy)
    for key in ("loss", "answer_ce", "rationale_ce"):
        assert log[0][key] == pytest.approx(whole[key].item(), rel=1e-4)


def test_non_finite_loss_names_the_step(curated, tiny_llama, tmp_path):
    from transformers import AutoModelForCausalLM

    broken = tmp_path / "broken"
    shutil.copytree(tiny_llama, broken)
    model = AutoModelForCausalLM.from_pretrained(broken)
    with torch.no_grad():
        model.model.norm.weight[0] = float("nan")
    model.save_pretrained(broken)
    config = load_config(data=curated, strategy="answer-only", student=str(broken), out=tmp_path / "o",
                         max_steps=2, **FAST)  # fmt: skip
    with pytest.raises(TrainingError, match="loss became nan at optimizer step 1"):
        train(config)


@pytest.mark.parametrize("merge", [True, False])
def test_lora_with_new_marker_token_saves_it(curated, tiny_llama, minilm, tmp_path, merge):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = load_config(data=curated, strategy="pst", student="tiny-llama", out=tmp_path / "o", lora=True,
                         lora_r=4, new_separator_token=True, merge_lora=merge, max_steps=3, lr=1e-2,
                         sem_cache_dir=tmp_path / "cache", **FAST)  # fmt: skip
    out = train(config)
    meta = read_model_metadata(out)
    assert meta["added_tokens"] == ["[SEP]"] and meta["lora"]["trainable_token_indices"] == [49152]
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer("[SEP]", add_special_tokens=False)["input_ids"] == [49152]
    if merge:
        model = AutoModelForCausalLM.from_pretrained(out)
        assert model.get_input_embeddings().weight.shape[0] == 49153
        assert not (out / "adapter_config.json").exists()
    else:
        weights = load_file(out / "adapter_model.safetensors")
        deltas = [v for k, v in weights.items() if "trainable_tokens" in k]
        assert deltas and all(d.abs().sum() > 0 for d in deltas)  # the marker row was trained and saved


@pytest.mark.slow
def test_smollm2_lora_integration(curated, smollm2, tmp_path):
    """SmolLM2-135M-Instruct, LoRA, bf16: a handful of steps; the adapter folder loads with plain transformers."""
    records, _ = read_curated(curated)
    strategy = get_strategy("post-thinking")
    config = load_config(data=curated, strategy="post-thinking", student="smollm2-135m-instruct",
                         out=tmp_path / "o", lora=True, lora_r=8, merge_lora=False, max_steps=3, lr=3e-3,
                         bf16=True, **{**FAST, "batch_size": 2, "max_len": 64})  # fmt: skip
    before = fixed_batch_ce(smollm2, strategy, records, n=2)
    out = train(config)
    assert (out / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
    after = fixed_batch_ce(out, strategy, records, n=2)  # transformers loads base + adapter itself
    assert after < before, (before, after)
    meta = read_model_metadata(out)
    assert meta["lora"]["merged"] is False and meta["base_model"]["name"] == "smollm2-135m-instruct"


def test_record_with_two_rationales_is_rejected(tmp_path):
    from cotdistill.errors import DataError

    (tmp_path / "manifest.json").write_text("{}")
    record = Record(id="x", question="q", answer="1", answer_type="numeric", rationales=["a", "b"])
    (tmp_path / "train.jsonl").write_text(record.to_json() + "\n")
    with pytest.raises(DataError, match=r"train.jsonl:1 \(record x\), field 'rationales'"):
        read_curated(tmp_path)
