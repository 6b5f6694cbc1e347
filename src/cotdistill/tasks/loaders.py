"""Importing this module registers every task (one module per data format)."""

from cotdistill.tasks import distilling, generic, gsm8k, mcckd, synthetic, zero_shot  # noqa: F401
