"""Teachers: one sampling interface, several backends, and a resumable runner into the store.

    from cotdistill.teachers import TeachConfig, teach
    summary = teach(TeachConfig(task="synth-arith", teacher="reference", store="runs/store.sqlite", samples=4))
"""

from cotdistill.teachers.base import Backend, BatchingBackend, Completion, Prompt, Request, SamplingParams, TeacherError
from cotdistill.teachers.prompts import PROMPT_STYLES, get_prompt_style, load_exemplars
from cotdistill.teachers.plan import PlanTooLarge, TeachPlan
from cotdistill.teachers.runner import (
    TEACHERS,
    TeachConfig,
    TeachSummary,
    make_backend,
    plan_teach,
    teach,
)

__all__ = [
    "PROMPT_STYLES",
    "TEACHERS",
    "Backend",
    "BatchingBackend",
    "Completion",
    "PlanTooLarge",
    "Prompt",
    "Request",
    "SamplingParams",
    "TeachConfig",
    "TeachPlan",
    "TeachSummary",
    "TeacherError",
    "get_prompt_style",
    "load_exemplars",
    "make_backend",
    "plan_teach",
    "teach",
]
