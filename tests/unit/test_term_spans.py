"""triage.team.term_spans: the one highlighter of `screen` (terminal) and `serve` (browser)."""

from triage.team import term_spans


def test_spans_rejoin_to_the_text_and_mark_terms_case_insensitively():
    text = "Statins and STATIN users; a case report of statin-induced myopathy"
    spans = term_spans(text, {"include": ["statin"], "exclude": ["case report"]})
    assert "".join(p for p, _ in spans) == text
    assert [(p, k) for p, k in spans if k] == [("Statin", "include"), ("STATIN", "include"),
                                               ("case report", "exclude"), ("statin", "include")]


def test_longer_terms_win_and_a_term_in_both_lists_counts_as_exclude():
    spans = term_spans("mouse model of mice", {"include": ["mouse", "model"], "exclude": ["mouse model", "MICE"]})
    assert [(p, k) for p, k in spans if k] == [("mouse model", "exclude"), ("mice", "exclude")]
    assert term_spans("a b", {"include": ["b"], "exclude": ["B"]})[-1] == ("b", "exclude")


def test_no_terms_or_no_text():
    assert term_spans("plain <b>text</b>", {"include": [], "exclude": []}) == [("plain <b>text</b>", "")]
    assert term_spans("", {"include": ["x"]}) == []
    assert term_spans("a.b", {"include": ["."]}) == [("a", ""), (".", "include"), ("b", "")]  # not a regex
