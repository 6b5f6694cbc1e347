"""The one progress bar of long work (training steps, evaluation batches)."""

from __future__ import annotations

import sys


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar that redraws live on a terminal and once a minute when redirected to a log (a run left in
    the background), where a redraw every step would fill the log."""
    from tqdm.auto import tqdm

    return tqdm(iterable, mininterval=0.1 if sys.stderr.isatty() else 60, dynamic_ncols=True, **kwargs)
