"""cotdistill: distil step-by-step reasoning from a large teacher LLM into a small student.

The package folders follow the pipeline:
tasks -> teachers -> store -> curation -> strategies -> training -> evaluation -> reports,
with `experiments` running a whole grid and `cli` a thin layer over all of them.
"""

from cotdistill.records import AnswerType, Record, format_question

__version__ = "0.1.0"
__all__ = ["AnswerType", "Record", "format_question", "__version__"]
