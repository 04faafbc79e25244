"""Do keywords help ranking? Simulate with record texts built with and without them.

    python benchmarks/keywords_text.py --data-dir DATA_DIR [--preset tfidf_svm] [--seeds 1-5] \
        [--out benchmarks/results/keywords] [--only NAME,NAME] [--cache-dir CACHE_DIR]

Live projects build a record's text with `triage.features.text.record_text(title, abstract,
keywords)` and so append author keywords / MeSH terms; the 41 benchmark CSVs carry no keywords,
so simulation uses title + abstract only. This script measures the difference on public labelled
screening data that does carry keywords (issue #11 item 2). Two variants per record, both built
with `record_text`:

  ta   record_text(title, abstract)
  tak  record_text(title, abstract, keywords)

Each (dataset, seed) runs `triage.simulate.simulate.simulate` twice with the same seed, hence the
same prior records (1 relevant + 1 irrelevant, `draw_priors`): a paired comparison.

DATA_DIR layout (see benchmarks/results/keywords/README.md for where each file comes from):

  DATA_DIR/cohen/<Topic>.csv        Cohen et al. 2006 drug-class reviews, columns
                                    pubmedID,title,keywords,authors,abstracts,label1,label2;
                                    keywords = MEDLINE MeSH headings ("; "-separated);
                                    gold = label1 == "I" (title/abstract screening label).
  DATA_DIR/synergy/<Name>/labels.csv + works_*.zip
                                    SYNERGY v1: labels (openalex_id, label_included) and OpenAlex
                                    works; keywords = the work's MeSH descriptor names (`mesh`),
                                    abstract rebuilt from `abstract_inverted_index`.

Writes OUT/results.csv (one row per dataset x variant x seed; rows already there are kept and
not re-run), OUT/coverage.csv (keyword coverage per dataset) and OUT/summary.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics as st
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from triage.features.text import record_text
from triage.learn.presets import load_preset
from triage.simulate.benchmark import overlap_groups, parse_seeds
from triage.simulate.simulate import simulate

VARIANTS = ("ta", "tak")
METRICS = ("wss_95", "recall_10", "atd", "loss")
COLUMNS = ("dataset", "source", "variant", "seed", "records", "relevant", *METRICS, "n_for_95", "seconds")


class Dataset:
    """One labelled review: titles, abstracts, keyword lists and 0/1 gold labels (row aligned)."""

    def __init__(self, name: str, source: str, titles, abstracts, keywords, gold):
        self.name, self.source = name, source
        self.titles, self.abstracts, self.keywords = list(titles), list(abstracts), list(keywords)
        self.gold = np.asarray(gold, dtype=np.int8)

    def texts(self, variant: str) -> list[str]:
        if variant == "ta":
            return [record_text(t, a) for t, a in zip(self.titles, self.abstracts)]
        return [record_text(t, a, k) for t, a, k in zip(self.titles, self.abstracts, self.keywords)]


def load_cohen(path: Path) -> Dataset:
    """A Cohen 2006 raw CSV (asreview/systematic-review-datasets datasets/Cohen_2006/raw/);
    "NA" cells are read as empty."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    kws = [[k for k in _value(r["keywords"]).split(";") if k.strip()] for r in rows]
    return Dataset(f"Cohen_2006_{path.stem}", "cohen_mesh", [_value(r["title"]) for r in rows],
                   [_value(r["abstracts"]) for r in rows], kws,
                   [1 if r["label1"].strip() == "I" else 0 for r in rows])


def _value(cell: str | None) -> str:
    """A cell of the Cohen raw CSVs; their missing values are the string "NA" (1227 abstracts,
    27 keyword lists), which must not become a word of the text."""
    return "" if cell is None or cell.strip() == "NA" else cell


def _abstract(inverted: dict | None) -> str:
    if not inverted:
        return ""
    pos = sorted((i, w) for w, idx in inverted.items() for i in idx)
    return " ".join(w for _, w in pos)


def load_synergy(folder: Path) -> Dataset:
    """A SYNERGY v1 dataset folder (labels.csv + works_*.zip); labelled records whose work is
    missing from the zips are dropped (they have no text)."""
    works = {}
    for z in sorted(folder.glob("works_*.zip")):
        with zipfile.ZipFile(z) as zf:
            for n in zf.namelist():
                for w in json.loads(zf.read(n)):
                    works[w["id"]] = w
    titles, abstracts, kws, gold = [], [], [], []
    with (folder / "labels.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            w = works.get(r["openalex_id"])
            if w is None:
                continue
            mesh = list(dict.fromkeys(m["descriptor_name"] for m in (w.get("mesh") or []) if m.get("descriptor_name")))
            titles.append(w.get("title") or w.get("display_name") or "")
            abstracts.append(_abstract(w.get("abstract_inverted_index")))
            kws.append(mesh)
            gold.append(int(r["label_included"]))
    return Dataset(folder.name, "synergy_openalex_mesh", titles, abstracts, kws, gold)


def find(data_dir: Path) -> list[Dataset]:
    out = [load_cohen(p) for p in sorted((data_dir / "cohen").glob("*.csv"))]
    out += [load_synergy(p) for p in sorted((data_dir / "synergy").iterdir()) if (p / "labels.csv").exists()] \
        if (data_dir / "synergy").is_dir() else []
    if not out:
        raise SystemExit(f"no dataset under {data_dir} (expected cohen/*.csv or synergy/*/labels.csv)")
    return out


def coverage(d: Dataset) -> dict:
    has = np.array([bool(k) for k in d.keywords])
    rel = d.gold == 1
    return {"dataset": d.name, "source": d.source, "records": len(d.gold), "relevant": int(rel.sum()),
            "pct_with_keywords": round(float(100 * has.mean()), 1),
            "pct_relevant_with_keywords": round(float(100 * has[rel].mean()), 1),
            "mean_keywords": round(float(np.mean([len(k) for k in d.keywords])), 1)}


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def run(datasets: list[Dataset], preset_name: str, seeds: list[int], out: Path, cache_dir=None) -> list[dict]:
    preset = load_preset(preset_name)
    path = out / "results.csv"
    rows = read_rows(path)
    done = {(r["dataset"], r["variant"], int(r["seed"])) for r in rows}
    new_file = not path.exists()
    with path.open("a", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new_file:
            w.writeheader()
        for d in datasets:
            texts = {v: d.texts(v) for v in VARIANTS}
            for seed in seeds:
                for v in VARIANTS:
                    if (d.name, v, seed) in done:
                        continue
                    t0 = time.perf_counter()
                    res = simulate(texts[v], d.gold, preset, seed, prior_included=1, prior_excluded=1,
                                   final_scores=False, cache_dir=cache_dir)
                    m = res.metrics
                    row = {"dataset": d.name, "source": d.source, "variant": v, "seed": seed,
                           "records": m.records, "relevant": m.relevant,
                           **{k: round(getattr(m, k), 6) for k in METRICS},
                           "n_for_95": m.n_for_95, "seconds": round(time.perf_counter() - t0, 2)}
                    w.writerow(row)
                    f.flush()
                    rows.append({k: str(x) for k, x in row.items()})
                    print(f"{d.name} {v} seed {seed}: wss_95 {m.wss_95:.3f} recall_10 {m.recall_10:.3f} "
                          f"atd {m.atd:.3f} ({row['seconds']} s)", file=sys.stderr, flush=True)
    return rows


def _bootstrap_ci(diffs, rng: np.random.Generator, n: int = 10_000) -> tuple[float, float]:
    d = np.asarray(diffs, dtype=float)
    means = d[rng.integers(0, len(d), size=(n, len(d)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _sign_p(diffs) -> float:
    """Two-sided exact sign test p-value (ties dropped)."""
    from math import comb

    pos, neg = sum(x > 0 for x in diffs), sum(x < 0 for x in diffs)
    n = pos + neg
    if n == 0:
        return 1.0
    k = min(pos, neg)
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)


def summary(rows: list[dict], cov: list[dict], seeds: list[int], preset: str, command: str) -> str:
    per: dict = {}
    for r in rows:
        per.setdefault((r["dataset"], r["variant"]), {})[int(r["seed"])] = r
    datasets = [c["dataset"] for c in cov
                if all(set(seeds) <= set(per.get((c["dataset"], v), {})) for v in VARIANTS)]
    mean = {(d, v, m): st.fmean(float(per[(d, v)][s][m]) for s in seeds)
            for d in datasets for v in VARIANTS for m in METRICS}
    covd = {c["dataset"]: c for c in cov}
    out = [f"# Keywords in the record text: title+abstract (ta) vs title+abstract+keywords (tak)", "",
           f"Preset `{preset}`, seeds {seeds[0]}-{seeds[-1]} (same priors for both variants: 1 relevant + "
           f"1 irrelevant), {len(datasets)} datasets. Command: `{command}`.", "",
           "Per dataset: seed means; diff = tak - ta (WSS@95, recall@10%: higher is better; "
           "ATD, loss: lower is better). kw% = records with at least one keyword (all / relevant).", "",
           "| dataset | records | relevant | kw% all / rel | WSS@95 ta | WSS@95 tak | diff | recall@10% ta "
           "| recall@10% tak | diff | ATD ta | ATD tak | diff |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for d in datasets:
        c = covd[d]
        cells = []
        for m in ("wss_95", "recall_10", "atd"):
            a, b = mean[(d, "ta", m)], mean[(d, "tak", m)]
            cells += [f"{a:.3f}", f"{b:.3f}", f"{b - a:+.3f}"]
        out.append(f"| {d} | {c['records']} | {c['relevant']} | {c['pct_with_keywords']:.0f} / "
                   f"{c['pct_relevant_with_keywords']:.0f} | " + " | ".join(cells) + " |")
    rng = np.random.default_rng(0)
    out += ["", "Paired over datasets (each dataset's seed mean once; 'reviews once' averages the "
            "overlapping pairs Chou_2004/Cohen SkeletalMuscleRelaxants and Nelson_2002/Cohen Estrogens "
            "first). CI: 95 % bootstrap over datasets (10 000 resamples, rng seed 0); p: two-sided "
            "exact sign test over datasets.", "",
            "| subset | metric | n | mean ta | mean tak | mean diff | 95 % CI of diff | median diff "
            "| tak better / worse / tie | sign p |", "|---|---|---:|---:|---:|---:|---|---:|---|---:|"]
    subsets = [("all datasets", datasets)]
    for src in sorted({covd[d]["source"] for d in datasets}):
        subsets.append((src, [d for d in datasets if covd[d]["source"] == src]))
    for label, ds in subsets:
        for m, higher in (("wss_95", True), ("recall_10", True), ("atd", False), ("loss", False)):
            for once in ((False, True) if label == "all datasets" else (False,)):
                if once:
                    groups = overlap_groups(ds)
                    a = [st.fmean(mean[(d, "ta", m)] for d in g) for g in groups]
                    b = [st.fmean(mean[(d, "tak", m)] for d in g) for g in groups]
                else:
                    a = [mean[(d, "ta", m)] for d in ds]
                    b = [mean[(d, "tak", m)] for d in ds]
                diffs = [y - x for x, y in zip(a, b)]
                better = sum((x > 1e-9) if higher else (x < -1e-9) for x in diffs)
                worse = sum((x < -1e-9) if higher else (x > 1e-9) for x in diffs)
                lo, hi = _bootstrap_ci(diffs, rng)
                out.append(f"| {label}{' (reviews once)' if once else ''} | {m} | {len(diffs)} | "
                           f"{st.fmean(a):.3f} | {st.fmean(b):.3f} | {st.fmean(diffs):+.4f} | "
                           f"[{lo:+.4f}, {hi:+.4f}] | {st.median(diffs):+.4f} | "
                           f"{better} / {worse} / {len(diffs) - better - worse} | {_sign_p(diffs):.3f} |")
    secs = [float(r["seconds"]) for r in rows if r["dataset"] in datasets]
    out += ["", f"Runs: {len(secs)}, mean {st.fmean(secs):.1f} s per run (features + loop)." if secs else ""]
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="folder with cohen/ and/or synergy/ (see docstring)")
    ap.add_argument("--preset", default="tfidf_svm")
    ap.add_argument("--seeds", default="1-5")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "keywords")
    ap.add_argument("--only", default="", help="comma-separated dataset names to run (default: all)")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="feature cache folder (embeddings of presets that use them are kept there)")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    datasets = find(args.data_dir)
    if args.only:
        keep = set(args.only.split(","))
        datasets = [d for d in datasets if d.name in keep]
    args.out.mkdir(parents=True, exist_ok=True)
    cov = [coverage(d) for d in datasets]
    with (args.out / "coverage.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(cov[0]))
        w.writeheader()
        w.writerows(cov)
    rows = run(datasets, args.preset, seeds, args.out, args.cache_dir)
    command = ("python benchmarks/keywords_text.py --data-dir DATA_DIR"
               + (f" --preset {args.preset}" if args.preset != "tfidf_svm" else "")
               + (f" --seeds {args.seeds}" if args.seeds != "1-5" else ""))
    (args.out / "summary.md").write_text(summary(rows, cov, seeds, args.preset, command), encoding="utf-8")
    print((args.out / "summary.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
