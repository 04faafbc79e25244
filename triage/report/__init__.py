"""Reports: text / Markdown / JSON / HTML / plots. Renders; computes nothing new."""

from triage.report.stopping import (StoppingReport, build_report, gain_curve_png, one_line_summary,
                                    recall_sentence, render_html, render_json, render_markdown)

__all__ = ["StoppingReport", "build_report", "gain_curve_png", "one_line_summary",
           "recall_sentence", "render_html", "render_json", "render_markdown"]
