"""`triage report` and `triage sample` end to end on a small project."""

import csv
import json

from click.testing import CliRunner

from triage.cli.main import cli
from triage.io.record import Record
from triage.store.project import Project

XSS = "<script>alert(1)</script>"


def _project(tmp_path, n=120, n_rel=6, n_lab=80):
    d = tmp_path / "proj"
    p = Project.create(d, question=f"Q {XSS}", seed=11)
    recs = [Record(title=f"Title {i}", abstract=(f"Abstract {i} {XSS}" if i == 0 else f"Abstract {i}"), position=i + 1)
            for i in range(n)]
    p.import_records(tmp_path / "x.ris", "ris", recs, file_bytes_hash="h1")
    ids = p.record_ids().tolist()
    items = [(rid, "include" if i < n_rel else "exclude") for i, rid in enumerate(ids[:n_lab])]
    p.add_labels(items[:2], reviewer="me", origin="prior")
    p.add_labels(items[2:], reviewer="me", origin="ranked")
    p.close()
    return d


def test_report_formats(tmp_path):
    d = _project(tmp_path)
    r = CliRunner().invoke(cli, ["report", str(d)])
    assert r.exit_code == 0, r.output
    assert "| statistical |" in r.output and "Stopping report" in r.output
    r = CliRunner().invoke(cli, ["report", str(d), "--format", "json", "--target", "0.9"])
    data = json.loads(r.output)
    assert data["target"] == 0.9 and data["n_relevant"] == 6 and data["n_screened"] == 78
    out = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["report", str(d), "--format", "html", "--out", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_bad_options(tmp_path):
    d = _project(tmp_path)
    r = CliRunner().invoke(cli, ["report", str(d), "--target", "1.5"])
    assert r.exit_code == 2 and "--target" in r.output
    r = CliRunner().invoke(cli, ["report", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "not a triage project" in r.output


def test_sample_draws_from_pool_and_writes_csv(tmp_path):
    d = _project(tmp_path)
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(cli, ["sample", str(d), "-n", "15", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 15 and all(row["origin"] == "random" and row["label"] == "" for row in rows)
    with Project.open(d) as p:
        labelled = set(p.history().record_ids.tolist())
        s = p.samples()
    assert len(s) == 1 and s[0]["pool_size"] == 40
    assert {int(row["record_id"]) for row in rows} == set(s[0]["record_ids"].tolist())
    assert not labelled & set(s[0]["record_ids"].tolist())
    # a second draw uses the next generator: different ids, same project seed
    r = CliRunner().invoke(cli, ["sample", str(d), "-n", "15", "--out", str(tmp_path / "s2.csv")])
    with Project.open(d) as p:
        s = p.samples()
    assert len(s) == 2 and s[1]["record_ids"].tolist() != s[0]["record_ids"].tolist()


def test_sample_labels_feed_the_random_sample_rule(tmp_path):
    d = _project(tmp_path)
    r = CliRunner().invoke(cli, ["sample", str(d), "-n", "40", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    with Project.open(d) as p:
        ids = p.samples()[0]["record_ids"].tolist()
        p.add_labels([(i, "exclude") for i in ids], reviewer="me", origin="random")
    r = CliRunner().invoke(cli, ["report", str(d), "--format", "json"])
    rs = json.loads(r.output)["rules"]["random_sample"]
    assert rs["extra"]["sample_labelled"] == 40 and rs["stop"] is True  # the whole pool was sampled


def test_sample_csv_labelled_and_read_back_with_label_stores_random_origin(tmp_path):
    import csv

    from triage.history import RANDOM

    d = _project(tmp_path)
    out = tmp_path / "s.csv"
    assert CliRunner().invoke(cli, ["sample", str(d), "-n", "10", "--out", str(out)]).exit_code == 0
    rows = list(csv.DictReader(open(out, newline="", encoding="utf-8")))
    assert {r["origin"] for r in rows} == {"random"}
    for r in rows:
        r["label"] = "exclude"
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = CliRunner().invoke(cli, ["label", str(d), str(out)])
    assert r.exit_code == 0, r.output
    with Project.open(d) as p:
        h = p.history()
        sampled = {int(r["record_id"]) for r in rows}
        assert {int(i) for i, o in zip(h.record_ids, h.origins) if o == RANDOM} == sampled
        assert all(e.round_id is None for e in p.label_events() if e.record_id in sampled)


def test_default_sample_warns_when_it_is_most_of_the_pool(tmp_path):
    few = _project(tmp_path / "a", n=1000, n_rel=1, n_lab=80)  # 1 relevant found: certifying needs ~95 % of the pool
    r = CliRunner().invoke(cli, ["sample", str(few), "--out", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    assert "of the pool. With 1 relevant record(s) found so far" in r.output  # stderr, mixed in
    many = _project(tmp_path / "b", n=2000, n_rel=200, n_lab=400)
    r = CliRunner().invoke(cli, ["sample", str(many), "--out", str(tmp_path / "b.csv")])
    assert r.exit_code == 0, r.output
    assert "Drew" in r.output and "Note:" not in r.output
