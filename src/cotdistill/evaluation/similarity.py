"""Semantic similarity of generated rationales to the teacher's, with a frozen sentence encoder."""

from __future__ import annotations

from collections.abc import Sequence


def rationale_similarities(
    generated: Sequence[str | None], references: Sequence[Sequence[str]], encoder
) -> list[float | None]:
    """Cosine similarity of each generated rationale to its closest reference rationale.

    The closest (max over references) because a question may carry several equally valid teacher
    rationales (SCoTD data); None where either side is empty.
    """
    pairs = [(i, g) for i, g in enumerate(generated) if g and g.strip() and references[i]]
    if not pairs:
        return [None] * len(generated)
    flat_refs = [r for i, _ in pairs for r in references[i]]
    gen_emb = encoder.encode([g for _, g in pairs], convert_to_tensor=True, normalize_embeddings=True)
    ref_emb = encoder.encode(flat_refs, convert_to_tensor=True, normalize_embeddings=True)
    scores: list[float | None] = [None] * len(generated)
    start = 0
    for row, (i, _) in enumerate(pairs):
        count = len(references[i])
        cosines = ref_emb[start : start + count] @ gen_emb[row]
        scores[i] = float(cosines.max())
        start += count
    return scores
