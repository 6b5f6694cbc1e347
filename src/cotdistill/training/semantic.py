"""PST's semantic side: the frozen rationale embeddings e(r), cached on disk, and the projection head g.

e(r) is computed once per distinct rationale text and kept in a safetensors file per encoder
(`$COTDISTILL_HOME/semantic-targets/<encoder hash>.safetensors`, rows keyed by a hash of the text):
a later run, a resumed run or another strategy setting on the same data computes only what is new.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cotdistill.training.losses import centroids, mean_pool

Encoder = Callable[[list[str]], torch.Tensor]  # texts -> (N, D) embeddings


class SemanticHead(nn.Module):
    """g: student hidden size -> target size; linear or a 2-layer MLP. Used in training only."""

    def __init__(self, in_dim: int, out_dim: int, kind: str = "linear"):
        super().__init__()
        self.kind, self.in_dim, self.out_dim = kind, in_dim, out_dim
        if kind == "linear":
            self.net = nn.Linear(in_dim, out_dim)
        else:
            self.net = nn.Sequential(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, out_dim))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net(hidden.to(self.net_dtype))

    @property
    def net_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def config(self) -> dict:
        return {"kind": self.kind, "in_dim": self.in_dim, "out_dim": self.out_dim}


def default_cache_dir() -> Path:
    home = Path(os.environ.get("COTDISTILL_HOME", Path.home() / ".cache" / "cotdistill"))
    return home / "semantic-targets"


def text_key(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:32]


@dataclass
class TargetTable:
    """Per-example semantic targets: a (M, D) matrix of unit vectors and each example's row in it."""

    matrix: torch.Tensor
    rows: list[int]
    computed: int  # how many rationale embeddings this call had to compute (0 = all from the cache)


def embed_with_cache(texts: list[str], encoder: Encoder, identity: str, cache_dir: Path) -> tuple[torch.Tensor, int]:
    """L2-normalised embeddings (N, D) of texts, computing only those not yet in the encoder's cache file."""
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{hashlib.sha256(identity.encode()).hexdigest()[:16]}.safetensors"
    known: dict[str, torch.Tensor] = {}
    if path.is_file():
        with safe_open(str(path), framework="pt") as handle:
            keys = json.loads(handle.metadata()["keys"])
        known = dict(zip(keys, load_file(str(path))["embeddings"]))
    wanted = list(dict.fromkeys(text_key(t) for t in texts))
    missing = [k for k in wanted if k not in known]
    if missing:
        text_of = {text_key(t): t for t in texts}
        fresh = F.normalize(encoder([text_of[k] for k in missing]).float().cpu(), dim=-1)
        known.update(zip(missing, fresh))
        keys = list(known)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        save_file(
            {"embeddings": torch.stack([known[k] for k in keys]).contiguous()},
            str(tmp),
            metadata={"keys": json.dumps(keys), "identity": identity},
        )
        os.replace(tmp, path)
    return torch.stack([known[text_key(t)] for t in texts]), len(missing)


def target_table(
    rationales: list[str], groups: list[str], encoder: Encoder, identity: str, cache_dir: Path, centroid: bool
) -> TargetTable:
    """Targets for examples with these rationales and question ids (groups).

    centroid=False: each example's own e(r). centroid=True: the normalised mean of e(r) over all
    examples of its question (SCoTD data has several rationales per question).
    """
    distinct = list(dict.fromkeys(r.strip() for r in rationales))
    embeddings, computed = embed_with_cache(distinct, encoder, identity, cache_dir)
    row_of_text = {text: i for i, text in enumerate(distinct)}
    per_example = [row_of_text[r.strip()] for r in rationales]
    if not centroid:
        return TargetTable(embeddings, per_example, computed)
    by_group = centroids(embeddings[per_example], groups)
    names = list(by_group)
    group_row = {g: i for i, g in enumerate(names)}
    return TargetTable(torch.stack([by_group[g] for g in names]), [group_row[g] for g in groups], computed)


def minilm_encoder(name: str = "minilm", batch_size: int = 64) -> tuple[Encoder, str]:
    """all-MiniLM-L6-v2 (sentence-transformers) and its cache identity.

    The encoder is loaded at its first call only: with every target cached, a run (on another machine
    too) needs no encoder. A registered name is its own identity, so the cache survives a moved or
    reinstalled package; a folder is identified by its path.
    """
    from functools import cache

    from cotdistill.models import load_encoder, resolve
    from cotdistill.models.registry import is_registered

    model = cache(lambda: load_encoder(resolve(name), device="cpu"))

    def encode(texts: list[str]) -> torch.Tensor:
        return model().encode(texts, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True)

    return encode, f"sentence-transformers:{name if is_registered(name) else resolve(name)}"


def self_encoder(model, tokenizer, source: str, max_len: int, batch_size: int = 16) -> tuple[Encoder, str]:
    """The initial student itself, frozen and mean-pooled: call before training changes its weights."""

    @torch.no_grad()
    def encode(texts: list[str]) -> torch.Tensor:
        was_training = model.training
        model.eval()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        out = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer([texts[i] for i in chunk], return_tensors="pt", padding=True,
                              truncation=True, max_length=max_len).to(model.device)  # fmt: skip
            hidden = model(**batch, output_hidden_states=True).hidden_states[-1]
            for i, vector in zip(chunk, mean_pool(hidden, batch["attention_mask"]).float().cpu()):
                out[i] = vector
        model.train(was_training)
        return torch.stack(out)

    weights = sorted(Path(source).glob("*.safetensors")) if Path(source).is_dir() else []
    stamp = [(w.name, w.stat().st_size, int(w.stat().st_mtime)) for w in weights]
    return encode, f"self:{source}:{stamp}:{max_len}"
