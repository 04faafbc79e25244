"""The stopping report renders rule results; HTML escapes all user text."""

import base64
import json
import re

import numpy as np

from triage.report import build_report, one_line_summary, recall_sentence, render_html, render_json, render_markdown
from triage.report.stopping import MAYBE_NOTE, default_sentence, gain_axis_top, screen_more
from triage.stopping import RuleInputs, RuleResult
from triage.history import PRIOR, RANKED, History

XSS = "<script>alert(1)</script>"


def hist(labels, n_records, n_prior=1):
    labels = list(labels)
    origins = [PRIOR] * n_prior + [RANKED] * (len(labels) - n_prior)
    return History.from_lists(range(len(labels)), labels, origins, [0] * len(labels), n_records)


def _report(n_irrelevant=300, **kw):
    h = hist([1, 1, 0, 1, 1] + [0] * n_irrelevant, 400)
    return build_report(h, np.full(400 - len(h), 0.001), question=f"Does {XSS} work?",
                        recent_relevant=[{"id": 3, "title": "A <b>bold</b> title", "abstract": f"Abstract {XSS}"}], **kw)


def test_html_escapes_user_text_and_embeds_png():
    page = render_html(_report())
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "A &lt;b&gt;bold&lt;/b&gt; title" in page
    m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert m and base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http" not in page.split("<body>")[1]  # self-contained: no external resources


def test_markdown_and_json_show_every_rule():
    rep = _report()
    md = render_markdown(rep)
    for name in ("statistical", "knee", "budget", "safe", "quantci", "consecutive_irrelevant", "counting_process",
                 "counting_process_clf", "statistical_knee"):
        assert f"| {name} |" in md
    assert "| default |" not in md  # the default leads the report alone, above the table
    verdict = "You may stop screening" if rep.results["default"].stop else "Keep screening"
    assert md.index(verdict) < md.index("| rule |")
    data = json.loads(render_json(rep))
    assert data["rules"]["statistical"]["guarantee"] is True
    assert data["rules"]["knee"]["guarantee"] is False
    assert data["n_relevant"] == 4 and len(data["gain_curve"]) == 305
    assert data["headline"].startswith(("You may stop", "Keep screening"))


def test_recall_sentence_uses_one_rule_only():
    # the old headline mixed quantci's range with the statistical bound ("estimated 48-100 % ...
    # (95 % confidence: at least 84 %)"); a sentence now speaks for a single rule
    d = RuleResult("default", False, True, recall_estimate=0.88, recall_lower=0.81, recall_upper=0.96, confidence=0.95,
                   est_relevant_remaining=3.0)
    assert recall_sentence(d, 0.95) == (
        "The default rule estimates that you have found 88 % of the relevant records (95 % bounds: 81–96 %).")
    b = RuleResult("statistical", False, True, recall_lower=0.91, confidence=0.95)
    assert recall_sentence(b, 0.95) == ("The statistical rule shows with 95 % confidence that you have found at "
                                        "least 91 % of the relevant records.")
    none = RuleResult("default", False, True, confidence=0.95, extra={"r_seen": 0})
    assert "No relevant record found yet" in recall_sentence(none, 0.95)


def test_headline_is_the_default_rule_alone_with_screen_more_and_assumption():
    rep = _report(n_irrelevant=30)  # 4 relevant early, 30 irrelevant since: the default says continue
    d = rep.results["default"]
    head = default_sentence(rep)
    assert head.startswith("Keep screening.") and "The default rule" in head
    assert f"Screen about {screen_more(d)} more records." in head
    assert f"Assumption: {d.assumption}" in head
    for other in ("quantci", "counting", "budget"):
        assert other not in head.split("Assumption:")[0]


def test_one_line_summary():
    line = one_line_summary(hist([1, 1, 0, 1, 1] + [0] * 20, 400), None)
    assert "\n" not in line and line.startswith("4 relevant in 24 screened of 400")
    assert "Keep screening" in line and "Screen about" in line
    done = one_line_summary(hist([1, 1, 0], 3), None)
    assert "You may stop" in done


def test_quantci_row_works_with_margins_and_screen_scores():
    # the SVM gives margins; with the screened records' scores QuantCI calibrates them instead of
    # always saying it needs probabilities
    labels = [1] + [1, 0, 1, 1, 0, 1, 0, 0, 1] + [0] * 40
    h = hist(labels, 200)
    screen = np.where(np.array(labels) == 1, 1.0, -1.0) + np.linspace(0.2, -0.2, len(labels))
    screen[0] = np.nan
    inputs = RuleInputs(np.linspace(-3, -1, 150), False, screen)
    rep = build_report(h, inputs)
    q = rep.results["quantci"]
    assert q.recall_estimate is not None and q.extra["calibration"] == "platt"
    assert "needs" not in q.summary and "cannot" not in q.summary
    no = build_report(h, None).results["quantci"]
    assert "no classifier has scored the pool yet" in no.summary


def test_empty_history_renders():
    rep = build_report(History.empty(10))
    assert "No relevant record found yet" in render_markdown(rep)
    assert "<html" in render_html(rep)


def test_empty_project_has_no_rule_table():
    # every rule 'stops' on an empty pool; the table said "stop: yes, >= 100 %"
    rep = build_report(History.empty(0))
    md = render_markdown(rep)
    assert "No records yet" in md and "| rule |" not in md and ">= 100 %" not in md
    assert "<html" in render_html(rep)


def test_report_says_how_maybe_is_counted_and_shows_provenance():
    rep = build_report(hist([1, 1, 0] + [0] * 20, 100), date="2026-12-02 10:00 UTC", project="demo",
                       preset="hybrid_svm", n_maybe=1)
    md = render_markdown(rep)
    assert MAYBE_NOTE in md and "(including 1 maybe)" in md
    assert "Date: 2026-12-02 10:00 UTC; project: demo; preset: hybrid_svm; triage " in md
    data = json.loads(render_json(rep))
    assert data["project"] == "demo" and data["preset"] == "hybrid_svm" and data["version"]
    assert MAYBE_NOTE.replace("`", "") in render_html(rep).replace("`", "")


def test_gain_axis_fits_the_curve_not_the_upper_bound():
    # 3 relevant found early: the exact upper bound on the total is far above; the axis must not
    # stretch to it (the real curve would lie flat at the bottom)
    rep = build_report(hist([1, 1, 0, 1] + [0] * 20, 4000))
    bound = rep.n_relevant / rep.results["statistical"].recall_lower
    top = gain_axis_top(rep)
    assert top < bound / 5 and top >= rep.n_relevant / rep.target


def test_a_lower_bound_that_rounds_to_zero_is_not_reported_as_at_least_0_percent():
    """Was: 'The default rule shows with 95 % confidence that you have found at least 0 % ...'."""
    from triage.report.stopping import recall_sentence

    tiny = RuleResult("default", False, True, recall_lower=0.002, confidence=0.95)
    assert "at least 0 %" not in recall_sentence(tiny, 0.95)
    assert "cannot yet bound recall" in recall_sentence(tiny, 0.95)
    real = RuleResult("default", False, True, recall_lower=0.84, confidence=0.95)
    assert "at least 84 %" in recall_sentence(real, 0.95)
