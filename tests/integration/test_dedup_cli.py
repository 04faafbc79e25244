"""De-duplication gaps (issue #13 item 7) on fixture exports: short titles match on title, year
and a long identical abstract; manual merge and its undo."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from triage.cli.main import cli
from triage.store.project import Project

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dedup"


def run(*args, ok: bool = True):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, r.output
    return r


def test_short_titles_match_when_year_and_long_abstract_agree(tmp_path):
    proj = tmp_path / "rv"
    run("init", proj)
    run("import", proj, FIX / "oral_abstracts.ris", FIX / "oral_abstracts.csv")
    groups = json.loads(run("duplicates", proj, "--json").stdout)
    # the exercise abstract of 2019 (RIS ID 1001 and CSV A7) is one record; the statin abstract,
    # the same abstract in another year (A8) and the short "Poster Session" abstract (A9) stay apart
    assert len(groups) == 1
    members = groups[0]["members"]
    assert [m["match_key"] for m in members] == [None, "abstract"]
    with Project.open(proj, readonly=True) as p:
        assert p.counts()["records"] == 4
        fields = {m["id"]: p.records([m["id"]])[0].fields for m in members}
    assert sorted(str(f.get("ID") or f.get("record_id")) for f in fields.values()) == ["1001", "A7"]


def test_manual_merge_and_split(tmp_path):
    proj = tmp_path / "rv"
    run("init", proj)
    run("import", proj, FIX / "oral_abstracts.csv")
    with Project.open(proj, readonly=True) as p:
        assert p.counts()["records"] == 3
    out = run("duplicates", proj, "--merge", 1, 3).stdout
    assert "record 3 merged into record 1's group" in out and f"--split 3" in out
    with Project.open(proj, readonly=True) as p:
        assert p.duplicate_groups() == [(1, [3])] and p.counts()["records"] == 2
    run("label", proj, "--record", 2, "include")
    r = run("duplicates", proj, "--merge", 1, 2, ok=False)
    assert r.exit_code == 2 and "record 2 has labels; merge the other way round" in r.output
    run("duplicates", proj, "--merge", 2, 1)  # 1 with its group (3) joins 2
    with Project.open(proj, readonly=True) as p:
        assert p.duplicate_groups() == [(2, [1, 3])]
    run("duplicates", proj, "--split", 1)  # undo: 1 comes back with the 3 it brought
    with Project.open(proj, readonly=True) as p:
        assert p.duplicate_groups() == [(1, [3])]
    r = run("duplicates", proj, "--merge", 1, 3, ok=False)
    assert r.exit_code == 2 and "already in one group" in r.output
