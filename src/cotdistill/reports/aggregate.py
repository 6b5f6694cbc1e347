"""Average finished cells over seeds: one summary per (task, strategy, noise, samples per question),
and the learning gate: did a strategy's students learn anything beyond a constant answer?"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """One table entry: a task x strategy x noise x samples-per-question cell, averaged over seeds."""

    task: str
    strategy: str
    noise: float
    samples_per_question: int | None
    seeds: int
    """How many seeds (finished cells) were averaged."""
    n: float
    """Test questions per seed (the mean, if seeds differ)."""
    accuracy: float
    """Mean accuracy over seeds, a fraction."""
    ci_low: float
    """Mean over seeds of the lower 95% bound (each cell's interval is over its test questions)."""
    ci_high: float
    accuracy_sd: float | None
    """Sample standard deviation of accuracy across seeds (None with one seed)."""
    mean_generated_tokens: float | None
    mean_latency_s: float | None
    floors: dict | None = None
    """The task's floors on the evaluated questions (experiments.questions.floors), when the rows carry them."""
    top_answer: str | None = None
    """The commonest prediction (of the first seed) and its mean share over seeds: near 1, a constant guesser."""
    top_answer_share: float | None = None
    accelerator: str | None = None
    """The GPU(s) the seeds were evaluated on, None on the CPU: latency is only comparable on one device."""

    @property
    def slice(self) -> tuple[float, int | None]:
        return (self.noise, self.samples_per_question)

    @property
    def learnt(self) -> bool | None:
        """The learning gate: the accuracy interval lies wholly above the best constant answer's
        (None when the floors are unknown). A comparison is only meaningful between students that learnt."""
        if not self.floors or "best_constant_ci95" not in self.floors:
            return None
        return self.ci_low > self.floors["best_constant_ci95"][1]


def summarise_rows(rows: list[dict]) -> list[Summary]:
    """Group finished rows by everything but the seed and average them, keeping first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row.get("status") == "ok":
            key = (row["task"], row["strategy"], row["noise"], row["samples_per_question"])
            groups.setdefault(key, []).append(row)
    return [_summary(key, members) for key, members in groups.items()]


def _summary(key: tuple, rows: list[dict]) -> Summary:
    task, strategy, noise, samples = key
    accuracies = [r["accuracy"] for r in rows]
    return Summary(
        task=task,
        strategy=strategy,
        noise=noise,
        samples_per_question=samples,
        seeds=len(rows),
        n=statistics.fmean(r["n"] for r in rows),
        accuracy=statistics.fmean(accuracies),
        ci_low=statistics.fmean(r["ci95"][0] for r in rows),
        ci_high=statistics.fmean(r["ci95"][1] for r in rows),
        accuracy_sd=statistics.stdev(accuracies) if len(rows) > 1 else None,
        mean_generated_tokens=_mean_or_none(r["mean_generated_tokens"] for r in rows),
        mean_latency_s=_mean_or_none(r["mean_latency_s"] for r in rows),
        floors=next((r["floors"] for r in rows if r.get("floors")), None),
        top_answer=rows[0].get("top_answer"),
        top_answer_share=_mean_or_none(r.get("top_answer_share") for r in rows),
        accelerator=", ".join(sorted({r["device"] for r in rows if r.get("device") not in (None, "cpu")})) or None,
    )


def compare(a: Summary, b: Summary, names: tuple[str, str] | None = None) -> str:
    """One line on `a` against `b` (same task): the difference in points and whether the intervals are
    apart, or why the comparison is not testable. `names` for two slices of one strategy (default: the strategies)."""
    name_a, name_b = names or (a.strategy, b.strategy)
    missing = [name for name, s in ((name_a, a), (name_b, b)) if s.learnt is False]
    if missing:
        return f"{name_a} vs {name_b}: not testable ({' and '.join(missing)} did not learn)"
    difference = 100 * (a.accuracy - b.accuracy)
    apart = a.ci_low > b.ci_high or b.ci_low > a.ci_high
    direction = "higher" if difference > 0 else "lower" if difference < 0 else "equal"
    verdict = direction + (", intervals apart" if apart else ", intervals overlap")
    unknown = "; floors unknown, so whether both learnt is unchecked" if a.learnt is None or b.learnt is None else ""
    return f"{name_a} vs {name_b}: {difference:+.1f} points ({verdict}){unknown}"


def _mean_or_none(values) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def ordered(values) -> list:
    """Distinct values in first-seen order."""
    return list(dict.fromkeys(values))


def main_slice(summaries: list[Summary]) -> tuple[float, int | None]:
    """The slice the headline plot shows: the lowest noise, then the most samples per question."""
    noise = min(s.noise for s in summaries)
    samples = [s.samples_per_question for s in summaries if s.noise == noise]
    known = [k for k in samples if k is not None]
    return noise, (max(known) if known else None)
