"""Reports: Markdown tables in the papers' layout (strategies x tasks) and PNG plots of a run.

    from cotdistill.reports import collect_rows, render_report
    render_report(collect_rows("runs/demo"), "runs/demo/report", title="demo")
"""

from cotdistill.reports.aggregate import Summary, summarise_rows
from cotdistill.reports.render import render_report, report_run
from cotdistill.reports.rows import collect_rows, normalise_row

__all__ = ["Summary", "collect_rows", "normalise_row", "render_report", "report_run", "summarise_rows"]
