"""Experiments: one config = tasks x strategies x seeds (x noise x samples per question), run resumably.

    from cotdistill.experiments import load_config, run_experiment
    summary = run_experiment(load_config("examples/quickstart.yaml"), "runs/quickstart")
"""

from cotdistill.experiments.config import Cell, ExperimentConfig, load_config, parse_config, run_config
from cotdistill.experiments.runner import Runner, RunSummary, run_experiment

__all__ = ["Cell", "ExperimentConfig", "RunSummary", "Runner", "load_config", "parse_config", "run_config", "run_experiment"]
