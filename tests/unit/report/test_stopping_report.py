"""The stopping report renders rule results; HTML escapes all user text."""

import base64
import json
import re

import numpy as np

from triage.report import build_report, one_line_summary, recall_sentence, render_html, render_json, render_markdown
from triage.stopping import RuleResult
from triage.history import PRIOR, RANKED, History

XSS = "<script>alert(1)</script>"


def hist(labels, n_records, n_prior=1):
    labels = list(labels)
    origins = [PRIOR] * n_prior + [RANKED] * (len(labels) - n_prior)
    return History.from_lists(range(len(labels)), labels, origins, [0] * len(labels), n_records)


def _report(**kw):
    h = hist([1, 1, 0, 1, 1] + [0] * 300, 400)
    return build_report(h, np.full(95, 0.001), question=f"Does {XSS} work?",
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
    for name in ("default", "statistical", "knee", "budget", "safe", "quantci", "consecutive_irrelevant"):
        assert f"| {name} |" in md
    data = json.loads(render_json(rep))
    assert data["rules"]["statistical"]["guarantee"] is True
    assert data["rules"]["knee"]["guarantee"] is False
    assert data["n_relevant"] == 4 and len(data["gain_curve"]) == 305
    assert data["headline"].startswith(("You may stop", "Keep screening"))


def test_recall_sentence_forms():
    q = RuleResult("quantci", False, False, 0.95, 0.93, 0.97, 0.95, 2.0)
    d = RuleResult("default", False, True, None, 0.91, None, 0.95, None)
    assert recall_sentence({"statistical": d, "quantci": q}, 0.95) == (
        "You have found an estimated 93–97 % of the relevant records (95 % confidence: at least 91 %).")
    assert recall_sentence({"default": d}, 0.95) == "With 95 % confidence you have found at least 91 % of the relevant records."
    none = RuleResult("default", False, True, None, None, None, 0.95, None)
    assert "No relevant record found yet" in recall_sentence({"default": none}, 0.95)


def test_one_line_summary():
    line = one_line_summary(hist([1, 1, 0, 1] + [0] * 20, 400), None)
    assert "\n" not in line and line.startswith("3 relevant in 23 screened of 400")
    assert "Keep screening" in line and "more irrelevant in a row" in line
    done = one_line_summary(hist([1, 1, 0], 3), None)
    assert "you may stop" in done
    assert "estimated" in one_line_summary(hist([1, 1, 0, 1] + [0] * 20, 400), np.full(376, 0.01))


def test_empty_history_renders():
    rep = build_report(History.empty(10))
    assert "No relevant record found yet" in render_markdown(rep)
    assert "<html" in render_html(rep)
