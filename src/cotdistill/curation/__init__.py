"""Curation: from stored teacher samples to a training set (filter, dedup, downsample, noise, label)."""

from cotdistill.curation.curate import DROP_REASONS, CurateConfig, curate
from cotdistill.curation.noise import NOISE_KINDS

__all__ = ["DROP_REASONS", "NOISE_KINDS", "CurateConfig", "curate"]
