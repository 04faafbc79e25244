"""`triage serve` through Flask's test client: access token, CSRF, escaping, decisions (stored,
never duplicated, undone), several reviewers at once, and the project and team pages."""

from __future__ import annotations

import re
import threading

import pytest

from _serve_helpers import CSRF, decide, login, make_project, shown_id
from triage.store.project import Project
from triage.web.app import create_app

XSS = "<script>alert(1)</script>"


@pytest.fixture
def serve(tmp_path):
    """serve(n=30, mode=..., worker=...) -> (app, project dir); the apps are closed after the test."""
    apps = []

    def start(n: int = 30, mode: str = "single", worker: bool = False, hostile: str | None = None,
              retrain_every: int | None = None):
        d = make_project(tmp_path, n, mode, hostile, question="zebrafish hypoxia" if hostile else "")
        app = create_app(d, "tok", preset="tfidf_svm", retrain_every=retrain_every, worker=worker)
        apps.append(app)
        return app, d

    yield start
    for app in apps:
        app.extensions["triage"].close()


def test_every_request_needs_the_token_then_the_cookie(serve):
    app, _ = serve()
    c = app.test_client()
    for path in ("/", "/screen", "/project", "/team", "/project/report", "/static/app.js", "/api/record"):
        assert c.get(path).status_code == 403, path
    assert c.get("/screen?token=wrong").status_code == 403
    r = c.get("/screen?token=tok")
    assert r.status_code == 302 and r.headers["Location"] == "/screen"  # the token leaves the address bar
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert c.get("/screen").status_code == 302  # now in: asked for a name first
    assert c.get("/static/app.js").status_code == 200
    other = app.test_client()  # another browser without the cookie or the token
    assert other.get("/screen").status_code == 403


def test_security_headers_forbid_inline_scripts_framing_and_sniffing(serve):
    app, _ = serve()
    c, _ = login(app)
    r = c.get("/screen")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "no-referrer"
    html = r.get_data(as_text=True)
    assert "<script>" not in html and "<script src=\"/static/app.js\"" in html  # no inline script at all
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere (no CDN)


def test_post_without_the_csrf_token_is_refused_and_stores_nothing(serve):
    app, d = serve()
    c, csrf = login(app)
    rid = shown_id(c.get("/screen").get_data(as_text=True))
    assert c.post("/api/decide", data={"record_id": rid, "action": "include"}).status_code == 403
    r = c.post("/api/decide", data={"record_id": rid, "action": "include"}, headers={"X-CSRF-Token": "x" + csrf})
    assert r.status_code == 403
    other, other_csrf = login(app, "bob")  # one session's token does not work for another
    assert decide(c, other_csrf, rid, "include").status_code == 403
    assert c.post("/name", data={"reviewer": "mallory"}).status_code == 403
    with Project.open(d) as p:
        assert p.label_events() == []
    assert decide(c, csrf, rid, "include").status_code == 200
    with Project.open(d) as p:
        assert [(e.record_id, e.label, e.reviewer) for e in p.label_events()] == [(rid, "include", "ann")]


def test_record_text_notes_and_names_are_escaped(serve, tmp_path):
    app, d = serve(n=3, mode="dual", hostile=XSS)
    with Project.open(d) as p:  # the hostile record in every field a page shows
        p.add_labels([(1, "include")], reviewer="ann", note=XSS, reason=XSS)
        p.add_labels([(1, "exclude")], reviewer="bob", note=XSS)
        from triage.team import add_reasons, set_terms

        add_reasons(p, [XSS])
        set_terms(p, ["zebrafish"], [])
    c, csrf = login(app, reviewer=XSS)
    pages = [c.get("/screen").get_data(as_text=True), c.get("/team").get_data(as_text=True),
             c.get("/project").get_data(as_text=True)]
    # the cold start ranks record 1 first (it matches the question)
    assert shown_id(pages[0]) == 1
    assert '<mark class="include">zebrafish</mark>' in pages[0]  # terms are highlighted, markup escaped
    for html in pages:
        assert "<script>alert" not in html
    assert pages[0].count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, abstract, reason list, name
    assert pages[1].count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, notes, reason
    r = decide(c, csrf, 1, "include", note=XSS)
    assert "<script>alert" not in r.get_data(as_text=True)
    report = c.get("/project/report").get_data(as_text=True)
    assert "<script" not in report


def test_decisions_are_stored_as_screen_stores_them_and_never_twice(serve):
    app, d = serve(n=10)
    c, csrf = login(app)
    first = shown_id(c.get("/screen").get_data(as_text=True))
    r = decide(c, csrf, first, "exclude", reason="wrong population", note="animal study")
    second = shown_id(r.get_data(as_text=True))
    assert r.status_code == 200 and second not in (None, first)
    assert f"Saved: record {first} -&gt; exclude with the note." in r.get_data(as_text=True)
    again = decide(c, csrf, first, "include")  # a repeated request (double key press, retry)
    assert "already labelled" in again.get_data(as_text=True)
    decide(c, csrf, second, "skip")
    third = shown_id(c.get("/api/record").get_data(as_text=True))
    assert third not in (first, second)
    decide(c, csrf, third, "maybe")
    r = decide(c, csrf, 0, "undo")
    assert f"Undone: record {third} (was maybe)" in r.get_data(as_text=True)
    assert shown_id(r.get_data(as_text=True)) == third  # the undone record is shown again first
    with Project.open(d) as p:
        events = p.label_events()
        rnd = p.latest_round().id
    assert [(e.record_id, e.label) for e in events] == [(first, "exclude"), (third, "maybe"), (third, None)]
    assert events[0].reason == "wrong population" and events[0].note == "animal study"
    assert {e.origin for e in events} == {"ranked"} and {e.reviewer for e in events} == {"ann"}
    assert {e.round_id for e in events} == {rnd}
    assert decide(c, csrf, first, "promote").status_code == 400
    assert decide(c, csrf, "x", "include").status_code == 400


def test_two_reviewers_in_single_mode_never_get_the_same_record(serve):
    app, d = serve(n=12)
    ann, ann_csrf = login(app, "ann")
    bob, bob_csrf = login(app, "bob")
    a = shown_id(ann.get("/screen").get_data(as_text=True))
    b = shown_id(bob.get("/screen").get_data(as_text=True))
    assert a != b  # ann has hers open: bob gets the next one
    decide(ann, ann_csrf, a, "include")
    decide(bob, bob_csrf, b, "exclude")
    r = decide(bob, bob_csrf, a, "exclude")  # bob cannot overwrite ann's label
    assert "already labelled" in r.get_data(as_text=True)
    with Project.open(d) as p:
        assert p.current_labels() == {a: "include", b: "exclude"}


def test_dual_mode_each_reviewer_screens_every_record_blinded(serve):
    app, d = serve(n=6, mode="dual")
    ann, ann_csrf = login(app, "ann")
    bob, bob_csrf = login(app, "bob")
    a = shown_id(ann.get("/screen").get_data(as_text=True))
    b = shown_id(bob.get("/screen").get_data(as_text=True))
    assert a == b  # both screen the same top record, each on their own
    decide(ann, ann_csrf, a, "include")
    html = decide(bob, bob_csrf, b, "exclude").get_data(as_text=True)
    assert "Screened 1 of 6 | found 0" in html  # bob's own progress only
    with Project.open(d) as p:
        assert p.reviewer_labels("ann") == {a: "include"} and p.reviewer_labels("bob") == {a: "exclude"}
    team = ann.get("/team").get_data(as_text=True)
    assert "Conflicts to resolve (1)" in team
    r = ann.post("/team/resolve", data={"record_id": a, "label": "include", "note": "discussed", "csrf": ann_csrf})
    assert r.status_code == 302
    team = ann.get("/team").get_data(as_text=True)
    assert f"Saved: record {a} resolved as include (was: conflict)" in team and "Conflicts to resolve (0)" in team
    assert ann.post("/team/resolve", data={"record_id": a, "label": "include"}).status_code == 403


def test_concurrent_decisions_from_threads_are_all_stored_once(serve):
    app, d = serve(n=120, worker=True, retrain_every=5)  # retrains run in the background meanwhile
    clients = [login(app, f"rev{k}") for k in range(6)]
    errors, posted = [], []
    lock = threading.Lock()

    def work(c, csrf):
        rid = shown_id(c.get("/screen").get_data(as_text=True))
        for _ in range(15):
            r = decide(c, csrf, rid, "exclude")
            if r.status_code != 200:
                errors.append(r.status_code)
                return
            with lock:
                posted.append(rid)
            rid = shown_id(r.get_data(as_text=True))

    threads = [threading.Thread(target=work, args=cw) for cw in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    app.extensions["triage"].wait_idle()
    assert errors == []
    assert len(posted) == 90 and len(set(posted)) == 90  # no record handed to two reviewers
    with Project.open(d) as p:
        events = p.label_events()
        assert len(p.rounds()) > 1
    assert sorted(e.record_id for e in events) == sorted(posted)  # none lost, none twice


def test_project_page_report_and_exports_reuse_the_cli_output(serve):
    from click.testing import CliRunner

    from triage.cli.main import cli

    app, d = serve(n=8)
    c, csrf = login(app)
    rid = shown_id(c.get("/screen").get_data(as_text=True))
    decide(c, csrf, rid, "include")
    page = c.get("/project").get_data(as_text=True)
    assert '<iframe id="report" src="/project/report"' in page and "search.json" in page
    r = c.get("/project/report")
    assert r.status_code == 200 and "frame-ancestors 'self'" in r.headers["Content-Security-Policy"]
    assert "style-src 'sha256-" in r.headers["Content-Security-Policy"]
    out = d.parent / "report.html"
    CliRunner().invoke(cli, ["report", str(d), "--out", str(out)])
    no_date = re.compile(r"Date: [^;]*;")
    assert no_date.sub("", r.get_data(as_text=True)) == no_date.sub("", out.read_text(encoding="utf-8"))
    for what, which, fmt in (("records", "included", "ris"), ("decisions", "all", "csv")):
        got = c.get(f"/project/export?what={what}&which={which}&format={fmt}")
        assert got.status_code == 200 and "attachment" in got.headers["Content-Disposition"]
        dest = d.parent / f"export.{fmt}"
        CliRunner().invoke(cli, ["export", str(d), "--what", what, "--which", which, "--format", fmt, "--out", dest])
        assert got.data == dest.read_bytes()
    assert c.get("/project/export?what=records&format=json").status_code == 400


def test_name_is_required_before_screening(serve):
    app, _ = serve()
    c = app.test_client()
    c.get("/screen?token=tok")
    assert c.get("/screen").headers["Location"] == "/name"
    csrf = CSRF.search(c.get("/name").get_data(as_text=True)).group(1)
    assert c.post("/api/decide", data={"record_id": 1, "action": "include", "csrf": csrf}).status_code == 409
    r = c.post("/name", data={"reviewer": "   ", "csrf": csrf})
    assert r.status_code == 200 and "Give your name" in r.get_data(as_text=True)
