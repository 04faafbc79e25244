"""A dual-screened review through the CLI: two reviewers, blinded batches, conflicts, agreement
(kappa equal to scikit-learn's), resolution, merging a colleague's copy, PRISMA and the audit trail."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score

from triage.cli.main import cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "simulate" / "statins_small.csv"


def run(*args, ok: bool = True, env: dict | None = None):
    r = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    if ok:
        assert r.exit_code == 0, r.output
    return r


def _unlabelled(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The fixture without its label column, and its gold labels by the file's record_id."""
    with open(FIXTURE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    dst = tmp_path / "search.csv"
    with open(dst, "w", newline="", encoding="utf-8") as g:
        w = csv.DictWriter(g, fieldnames=["record_id", "title", "abstract", "doi"], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return dst, {r["record_id"]: int(r["label_included"]) for r in rows}


def _batch(proj: Path, reviewer: str, n: int, out: Path) -> list[dict]:
    run("next", proj, "-n", n, "--out", out, "--reviewer", reviewer, "--preset", "tfidf_svm")
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _fill(path: Path, rows: list[dict], labels: dict[str, str]) -> None:
    for r in rows:
        r["label"] = labels[r["record_id"]]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture()
def dual_project(tmp_path):
    """Two reviewers screened the same 12 records blind; bob disagrees on three of them."""
    data, gold = _unlabelled(tmp_path)
    proj = tmp_path / "rv"
    run("init", proj, "--dual", "--question", "statins and cardiovascular events")
    run("import", proj, data)
    ann_rows = _batch(proj, "ann", 12, tmp_path / "ann.csv")
    ids = [r["record_id"] for r in ann_rows]
    assert len(set(ids)) == 12
    from triage.store.project import Project

    with Project.open(proj, readonly=True) as p:
        gold_by_id = {str(r.id): gold[r.fields["record_id"]] for r in p.records()}
    ann = {i: "include" if gold_by_id[i] else "exclude" for i in ids}
    _fill(tmp_path / "ann.csv", ann_rows, ann)
    run("label", proj, tmp_path / "ann.csv", "--reviewer", "ann")
    # bob is blind to ann: his batch still holds every record ann screened
    bob_rows = _batch(proj, "bob", 40, tmp_path / "bob.csv")
    assert set(ids) <= {r["record_id"] for r in bob_rows}
    assert all(r["label"] == "" for r in bob_rows)
    flip = {ids[0], ids[3], ids[5]}
    bob = {i: (("exclude" if ann[i] == "include" else "maybe") if i in flip else ann[i]) for i in ids}
    bob_rows = [r for r in bob_rows if r["record_id"] in bob]
    _fill(tmp_path / "bob.csv", bob_rows, bob)
    run("label", proj, tmp_path / "bob.csv", env={"TRIAGE_REVIEWER": "bob"})
    return proj, ids, ann, bob, flip


def test_dual_screening_end_to_end(dual_project, tmp_path):
    proj, ids, ann, bob, flip = dual_project
    # each reviewer's next batch leaves out what they screened, and only that
    again = _batch(proj, "ann", 40, tmp_path / "ann2.csv")
    assert not set(ids) & {r["record_id"] for r in again}
    # conflicts: exactly the flipped records, with both labels
    conf = json.loads(run("conflicts", proj, "--json").stdout)
    assert {str(c["record_id"]) for c in conf} == flip
    for c in conf:
        got = {d["reviewer"]: d["label"] for d in c["decisions"]}
        assert got == {"ann": ann[str(c["record_id"])], "bob": bob[str(c["record_id"])]}
    # agreement: kappa as scikit-learn computes it on the same pairs (include+maybe vs exclude)
    agr = json.loads(run("agreement", proj, "--json").stdout)["pairs"]
    assert len(agr) == 1 and agr[0]["reviewers"] == ["ann", "bob"] and agr[0]["n"] == 12
    a = [ann[i] == "exclude" for i in ids]
    b = [bob[i] == "exclude" for i in ids]
    assert agr[0]["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    assert agr[0]["percent_agreement"] == pytest.approx(sum(x == y for x, y in zip(a, b)) / 12)
    assert agr[0]["pabak"] == pytest.approx(2 * agr[0]["percent_agreement"] - 1)
    assert agr[0]["ci_low"] <= agr[0]["kappa"] <= agr[0]["ci_high"]
    text = run("agreement", proj).stdout
    assert "Cohen's kappa" in text and "Fleiss, Cohen & Everitt (1969)" in text
    # status counts final labels only; conflicts apart
    st = json.loads(run("status", proj, "--json").stdout)
    assert st["conflicts"] == 3 and st["included"] + st["excluded"] + st["maybe"] == 9
    # resolve one by --record, the rest from a resolution CSV
    first, *rest = sorted(flip, key=int)
    out = run("resolve", proj, "--record", first, "include", "--note", "discussed").stdout
    assert f"record {first} resolved as include (was: conflict)" in out
    res = tmp_path / "resolutions.csv"
    res.write_text("record_id,label\n" + "".join(f"{i},exclude\n" for i in rest), encoding="utf-8")
    assert "Saved 2 resolutions" in run("resolve", proj, res).stdout
    assert json.loads(run("conflicts", proj, "--json").stdout) == []
    st = json.loads(run("status", proj, "--json").stdout)
    assert st["conflicts"] == 0 and st["included"] + st["excluded"] + st["maybe"] == 12
    # the reviewers' own decisions are kept: agreement does not change after resolution
    assert json.loads(run("agreement", proj, "--json").stdout)["pairs"][0]["kappa"] == agr[0]["kappa"]
    final = {i: (ann[i] if i not in flip else ("include" if i == first else "exclude")) for i in ids}
    # PRISMA counts (final decisions) and the diagram
    pr = json.loads(run("prisma", proj, "--json").stdout)
    assert pr["identified"] == 40 and pr["screened"] == 12 and pr["not_screened"] == 28
    assert pr["included"] == sum(v == "include" for v in final.values())
    assert pr["excluded"] == sum(v == "exclude" for v in final.values()) == sum(pr["excluded_by_reason"].values())
    assert pr["conflicts"] == 0
    assert json.loads(run("prisma", proj, "--format", "json").stdout) == pr  # the old spelling still works
    svg = tmp_path / "prisma.svg"
    run("prisma", proj, "--format", "svg", "--out", svg)
    body = svg.read_text(encoding="utf-8")
    assert body.lstrip().startswith("<?xml") and "<svg" in body
    png = tmp_path / "prisma.png"
    run("prisma", proj, "--out", png)  # format from the extension
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the audit trail: every decision of both reviewers, then the three resolutions
    dec = json.loads(run("export", proj, "--what", "decisions", "--format", "json").stdout)
    assert [d["kind"] for d in dec] == ["decision"] * 24 + ["resolution"] * 3
    assert {(d["reviewer"], str(d["record_id"]), d["label"]) for d in dec if d["kind"] == "decision"} == \
        {("ann", i, ann[i]) for i in ids} | {("bob", i, bob[i]) for i in ids}
    res_note = [d for d in dec if d["kind"] == "resolution" and str(d["record_id"]) == first][0]
    assert res_note["note"] == "discussed" and res_note["created_at"]
    out = tmp_path / "decisions.csv"
    run("export", proj, "--what", "decisions", "--out", out)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 27 and set(rows[0]) >= {"reviewer", "created_at", "round", "origin", "label", "note", "reason"}
    # blinded export for one reviewer: only bob's labels
    mine = run("export", proj, "--format", "csv", "--reviewer", "bob", "--which", "all").stdout
    got = {r["record_id"]: r["label"] for r in csv.DictReader(mine.splitlines()) if r["label"]}
    assert got == bob


def test_exclusion_reasons_reach_prisma(tmp_path):
    data, _ = _unlabelled(tmp_path)
    crit = tmp_path / "criteria.txt"
    crit.write_text("Inclusion criteria:\n- adults on statins\nExclusion criteria:\n- not a randomised trial\n"
                    "- animal study\n", encoding="utf-8")
    proj = tmp_path / "rv"
    run("init", proj, "--criteria", crit)
    run("import", proj, data)
    out = run("reasons", proj, "--from-criteria", "--add", "Conference abstract").stdout
    assert "3 reasons added" in out and "1. not a randomised trial" in out and "3. Conference abstract" in out
    assert json.loads(run("reasons", proj, "--json").stdout) == ["not a randomised trial", "animal study",
                                                                 "Conference abstract"]
    f = tmp_path / "labels.csv"
    f.write_text("record_id,label,reason\n1,exclude,animal study\n2,exclude,animal study\n3,exclude,\n"
                 "4,include,\n", encoding="utf-8")
    run("label", proj, f)
    pr = json.loads(run("prisma", proj, "--json").stdout)
    assert pr["excluded_by_reason"] == {"animal study": 2, "no reason given": 1}
    assert "animal study: 2" in run("prisma", proj).stdout
    r = run("prisma", proj, "--format", "svg", ok=False)
    assert r.exit_code == 2 and "give --out FILE.svg" in r.output


def test_merge_a_colleagues_copy_adds_events_and_never_overwrites(tmp_path):
    data, _ = _unlabelled(tmp_path)
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    run("init", mine, "--dual")
    run("import", mine, data)
    shutil.copytree(mine, theirs)
    run("label", mine, "--record", 1, "include", "--reviewer", "ann")
    run("label", theirs, "--record", 1, "exclude", "--reviewer", "bob", "--reason", "not a trial")
    run("label", theirs, "--record", 2, "exclude", "--reviewer", "bob")
    out = run("merge", mine, theirs).stdout
    assert "Merged 2 label events" in out and "bob" in out
    assert "Merged 0 label events" in run("merge", mine, theirs).stdout  # twice: nothing more
    conf = json.loads(run("conflicts", mine, "--json").stdout)
    assert conf == [{"record_id": 1, "title": conf[0]["title"], "decisions": [
        {"reviewer": "ann", "label": "include", "note": "", "reason": ""},
        {"reviewer": "bob", "label": "exclude", "note": "", "reason": "not a trial"}]}]


def test_label_csv_with_a_reviewer_column_keeps_each_reviewers_decision(tmp_path):
    data, _ = _unlabelled(tmp_path)
    proj = tmp_path / "rv"
    run("init", proj, "--dual")
    run("import", proj, data)
    f = tmp_path / "team.csv"
    f.write_text("record_id,label,reviewer\n1,include,ann\n1,exclude,bob\n2,exclude,ann\n", encoding="utf-8")
    run("label", proj, f, "--reviewer", "me")
    conf = json.loads(run("conflicts", proj, "--json").stdout)
    assert [c["record_id"] for c in conf] == [1]


def test_single_mode_commands_say_how_to_switch(tmp_path):
    data, _ = _unlabelled(tmp_path)
    proj = tmp_path / "rv"
    run("init", proj)
    r = run("conflicts", proj, ok=False)
    assert r.exit_code == 2 and f"triage mode {proj} dual" in r.output
    assert "dual screening" in run("mode", proj, "dual").stdout
    assert json.loads(run("conflicts", proj, "--json").stdout) == []


def test_a_colleagues_equal_label_does_not_make_my_batch_look_imported(tmp_path):
    data, _ = _unlabelled(tmp_path)
    proj = tmp_path / "rv"
    run("init", proj, "--dual")
    run("import", proj, data)
    rows = _batch(proj, "ann", 2, tmp_path / "ann.csv")
    _fill(tmp_path / "ann.csv", rows, {r["record_id"]: "exclude" for r in rows})
    for r in rows:  # bob gives the same labels; ann has not imported her file yet
        run("label", proj, "--record", r["record_id"], "exclude", "--reviewer", "bob")
    r = run("next", proj, "-n", 2, "--out", tmp_path / "ann.csv", "--reviewer", "ann", "--preset", "tfidf_svm",
            ok=False)
    assert r.exit_code == 2 and "2 labels not yet imported" in r.output


def test_resolution_file_with_an_unknown_record_names_the_line(tmp_path):
    data, _ = _unlabelled(tmp_path)
    proj = tmp_path / "rv"
    run("init", proj, "--dual")
    run("import", proj, data)
    f = tmp_path / "res.csv"
    f.write_text("record_id,label\n1,include\n999,exclude\n", encoding="utf-8")
    r = run("resolve", proj, f, ok=False)
    assert r.exit_code == 2 and "line 3: no record with id 999" in r.output
