"""`triage embed` fills the project's embedding cache (fake embedder: no model loaded)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from triage.cli.main import cli
from triage.io.record import Record
from triage.store.project import Project


def test_embed_command_caches_then_hits(tmp_path):
    proj = tmp_path / "proj"
    with Project.create(proj) as p:
        recs = [Record(title=f"Effect of treatment {i} in adults", abstract=f"We studied outcome {i}.")
                for i in range(5)]
        p.import_records(tmp_path / "x.ris", "ris", recs, file_bytes_hash="abc")
    runner = CliRunner()
    first = runner.invoke(cli, ["embed", str(proj), "--embedder", "fake", "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout[first.stdout.index("{"):])
    assert out["records"] == 5 and out["embedded"] == 5
    second = runner.invoke(cli, ["embed", str(proj), "--embedder", "fake", "--json"])
    out = json.loads(second.stdout[second.stdout.index("{"):])
    assert out["embedded"] == 0 and out["cached_before"] == 5
    assert list((proj / "cache" / "embeddings").rglob("chunk-*.npz"))


def test_embed_command_unknown_model_is_a_clean_error(tmp_path):
    with Project.create(tmp_path / "p"):
        pass
    r = CliRunner().invoke(cli, ["embed", str(tmp_path / "p"), "--embedder", "nope"])
    assert r.exit_code == 2 and "unknown embedding model" in r.output
