"""The accuracy-vs-cost plot: one panel per task, log-scale tokens, the floor as a line, hollow did-not-learn points."""

from __future__ import annotations

import matplotlib
from matplotlib.colors import to_rgba
from PIL import Image

from cotdistill.reports import render_report, summarise_rows
from cotdistill.reports.plots import _nudged, accuracy_vs_tokens, accuracy_vs_tokens_figure
from cotdistill.reports.rows import normalise_row

FLOORS = {
    "coin": {"n": 100, "constant_answer": "yes", "constant_accuracy": 0.45, "best_constant_answer": "no",
             "best_constant_accuracy": 0.55, "best_constant_ci95": [0.45, 0.65]},
    "letters": {"n": 100, "constant_answer": "ab", "constant_accuracy": 0.01, "best_constant_answer": "ab",
                "best_constant_accuracy": 0.02, "best_constant_ci95": [0.005, 0.07]},
}


def row(task, strategy, accuracy, ci, tokens):
    return {"task": task, "strategy": strategy, "n": 100, "accuracy": accuracy, "ci95": ci,
            "mean_generated_tokens": tokens, "mean_latency_s": None if tokens is None else 0.01 * tokens,
            "floors": FLOORS[task]}


ROWS = [
    row("coin", "answer-only", 0.99, [0.95, 1.0], 2.0),
    row("coin", "pst", 0.98, [0.93, 0.99], 2.0),          # the same cost as answer-only: nudged apart
    row("coin", "pre-thinking", 0.95, [0.89, 0.98], 84.0),
    row("coin", "prefix", 0.55, [0.45, 0.64], 2.1),       # inside the floor's interval: did not learn
    row("letters", "answer-only", 0.01, [0.0, 0.05], 3.4),  # did not learn
    row("letters", "pre-thinking", 0.20, [0.13, 0.29], 74.0),
    row("letters", "pst", 0.01, [0.0, 0.05], None),       # no token count: left out of the plot
]


def summaries(rows=ROWS):
    return summarise_rows([normalise_row(r, f"row {i}") for i, r in enumerate(rows)])


def points(axes) -> dict[str, tuple[float, float, tuple]]:
    """strategy -> (x, y, marker face colour) of the panel's points."""
    out = {}
    for line in axes.get_lines():
        if (line.get_gid() or "").startswith("point:"):
            (x,), (y,) = line.get_data()
            out[line.get_gid().removeprefix("point:")] = (x, y, to_rgba(line.get_markerfacecolor()))
    return out


def test_one_panel_per_task_on_a_log_token_axis_with_the_floor_and_hollow_unlearnt_points():
    figure = accuracy_vs_tokens_figure(summaries(), "demo")
    try:
        panels = [axes for axes in figure.axes if axes.get_visible()]
        assert [axes.get_title() for axes in panels] == ["coin (100 questions)", "letters (100 questions)"]
        coin, letters = panels
        for axes, task in ((coin, "coin"), (letters, "letters")):
            assert axes.get_xscale() == "log" and "tokens" in axes.get_xlabel()
            floor = [line for line in axes.get_lines() if line.get_gid() == "floor"]
            assert len(floor) == 1 and floor[0].get_linestyle() == "--"
            assert set(floor[0].get_ydata()) == {100 * FLOORS[task]["best_constant_accuracy"]}
        white = to_rgba("white")
        coin_points = points(coin)
        assert set(coin_points) == {"answer-only", "pst", "pre-thinking", "prefix"}
        assert coin_points["prefix"][2] == white                      # did not learn: hollow
        assert all(coin_points[name][2] != white for name in ("answer-only", "pst", "pre-thinking"))
        assert coin_points["pre-thinking"][:2] == (84.0, 95.0)        # a point alone sits at its own cost
        assert coin_points["answer-only"][0] != coin_points["pst"][0]  # equal costs spread apart ...
        assert all(1.5 < coin_points[name][0] < 3.0 for name in ("answer-only", "pst", "prefix"))  # ... a little
        letter_points = points(letters)
        assert set(letter_points) == {"answer-only", "pre-thinking"}
        assert letter_points["answer-only"][2] == white and letter_points["pre-thinking"][2] != white
        low, high = coin.get_xlim()
        assert all(low < x < high for x, _, _ in coin_points.values())
        assert "spread sideways" in figure.get_suptitle()             # the title says the points were moved
        legend = [text.get_text() for text in figure.legends[0].get_texts()]
        assert "hollow: did not learn" in legend and any("best constant answer" in t for t in legend)
    finally:
        matplotlib.pyplot.close(figure)


def test_the_report_writes_and_links_the_plot(tmp_path):
    text = render_report(ROWS, tmp_path, title="demo").read_text()
    assert "![accuracy vs tokens](accuracy_vs_tokens.png)" in text
    with Image.open(tmp_path / "accuracy_vs_tokens.png") as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] > 600 and image.size[1] > 300


def test_no_token_counts_no_plot(tmp_path):
    rows = [{**r, "mean_generated_tokens": None} for r in ROWS]
    assert accuracy_vs_tokens(summaries(rows), tmp_path / "cost.png", "demo") is None
    assert not (tmp_path / "cost.png").exists()
    text = render_report(rows, tmp_path / "report", title="demo").read_text()
    assert "accuracy_vs_tokens" not in text


def test_near_equal_costs_spread_around_their_centre_and_others_stay():
    assert _nudged([2.0, 84.0, 2.0], 1.2) == [2.0 / 1.2 ** 0.5, 84.0, 2.0 * 1.2 ** 0.5]
    assert _nudged([5.0, 50.0], 1.2) == [5.0, 50.0]


def test_a_router_cell_gets_its_threshold_sweeps_with_each_mode_alone_and_the_oracle(tmp_path):
    from cotdistill.reports.plots import router_sweeps, router_sweeps_figure

    def point(thought, accuracy, tokens):
        return {"threshold": thought, "thought": thought, "accuracy": accuracy, "tokens": tokens, "seconds": 0.0}

    def result(accuracy, tokens):
        return {"accuracy": accuracy, "ci95": [max(accuracy - 0.1, 0.0), min(accuracy + 0.1, 1.0)], "mean_generated_tokens": tokens}

    sweep = [point(0.0, 0.5, 2.0), point(0.5, 0.7, 40.0), point(1.0, 0.6, 80.0)]
    chosen = {"threshold": 0.5, "chosen_by": "dev slice", "thought": 0.5, "sweep": sweep}
    router = {"signal": "product", "signals": {"product": {**result(0.7, 40.0), **chosen},
                                               "first": {**result(0.65, 45.0), **chosen}},
              "alone": {"answer-first": result(0.5, 2.0), "think-first": result(0.6, 80.0)},
              "oracle": {**result(0.9, 30.0), "thought": 0.3}, "students": {"answer-first": "pst", "think-first": "pre"}}
    rows = [normalise_row({**row("coin", "router", 0.7, [0.6, 0.8], 40.0), "router": router}, "router row"),
            normalise_row(row("coin", "pst", 0.98, [0.93, 0.99], 2.0), "pst row")]
    assert router_sweeps(rows[1:], tmp_path / "none.png", "t") is None  # no router cell, no plot
    path = router_sweeps(rows, tmp_path / "sweeps.png", "t")
    assert Image.open(path).size[0] > 400
    report = render_report(rows, tmp_path / "report", title="t")
    assert "router_sweeps.png" in report.read_text()
    axes = router_sweeps_figure(rows, "t").axes[0]
    labels = [line.get_label() for line in axes.get_lines()]
    assert "router, product (served)" in labels and "router, first" in labels  # a line per signal
    sweep_line = next(line for line in axes.get_lines() if line.get_label() == "router, product (served)")
    assert list(sweep_line.get_xdata()) == [2.0, 40.0, 80.0] and list(sweep_line.get_ydata()) == [50.0, 70.0, 60.0]
    assert any(line.get_gid() == "floor" for line in axes.get_lines()) and axes.get_xscale() == "log"
