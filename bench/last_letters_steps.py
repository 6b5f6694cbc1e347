"""Where a pre-thinking last-letters student goes wrong: naming each word's last letter, or joining them.
(not a test)

Reads each cell's eval.predictions.jsonl (what the student wrote on the evaluated questions) and, from its
rationale in the teacher's form ('The last letter of "Jesse" is "e".' per word, then 'So the final answer
is "eksa".'), counts:
- letter steps: the named letter is the last letter of the word the step names;
- joins: the final answer is exactly the concatenation of the letters the student itself named;
- words copied: the words its steps name are the question's words, in order.
So an accuracy is split into what a 135M student does not know (a word's spelling) and what it does not do
(gluing single letters into one string, which its tokenizer writes as other tokens).

    python bench/last_letters_steps.py --run-dir runs/suite-lastletters-dev
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, cell_predictions, share  # noqa: E402

from cotdistill.tasks import load_task  # noqa: E402
from cotdistill.tasks.files import read_jsonl  # noqa: E402

STEP = re.compile(r'The last letter of "([^"]*)" is "([^"]*)"')
JOIN = re.compile(r'final answer is "([^"]*)"')
WORDS = re.compile(r'"([^"]+)"')  # the question quotes its words: Take the last letters of each word in "Jesse Roderick ..."


def cell_counts(predictions: Path, questions: dict[str, str]) -> dict:
    counts = {"questions": 0, "correct": 0, "steps": 0, "steps_right": 0, "joins": 0, "joins_right": 0,
              "copied": 0}
    for _, row in read_jsonl(predictions):
        counts["questions"] += 1
        counts["correct"] += bool(row["correct"])
        steps = STEP.findall(row["output"])
        counts["steps"] += len(steps)
        counts["steps_right"] += sum(word.strip()[-1:].lower() == letter.lower() for word, letter in steps)
        quoted = WORDS.findall(questions.get(row["id"], ""))
        counts["copied"] += bool(quoted) and [w.strip() for w, _ in steps] == quoted[0].split()
        join = JOIN.search(row["output"])
        if steps and join:
            counts["joins"] += 1
            counts["joins_right"] += join.group(1) == "".join(letter for _, letter in steps)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/suite-lastletters-dev"))
    parser.add_argument("--name", default="last-letters-steps")
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args()

    questions = {r.id: r.question for r in load_task("last-letters", "train", data_dir=args.data_dir)}
    questions |= {r.id: r.question for r in load_task("last-letters", "test", data_dir=args.data_dir)}
    result = BenchResult(args.name)
    lines = [f"Run folder `{args.run_dir}`: each cell's own outputs on its evaluated questions.", "",
             "| cell | accuracy | last letter named right, per step | words copied right, per question "
             "| its own letters joined right, per answer |", "|---|---:|---:|---:|---:|"]
    for cell_name, predictions in cell_predictions(args.run_dir):
        c = cell_counts(predictions, questions)
        result.rows.append({"cell": cell_name, **c})
        lines.append(f"| {cell_name} | {c['correct']}/{c['questions']} | {share(c['steps_right'], c['steps'])} "
                     f"| {share(c['copied'], c['questions'])} | {share(c['joins_right'], c['joins'])} |")
    result.write("\n".join(lines))


if __name__ == "__main__":
    main()
