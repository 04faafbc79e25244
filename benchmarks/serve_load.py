"""Load benchmark of `triage serve` (issue #14): a decision's round trip and 8 reviewers at once.

    python benchmarks/serve_load.py --workdir WORK_DIR/serve-load
    python benchmarks/serve_load.py --workdir WORK_DIR/serve-load --data-dir ../shared/data/benchmarks

1. Builds a project of --records records (default 13,000) with `triage init` / `triage import`:
   synthetic records from a seeded Generator (a Zipf vocabulary; ~3 % "relevant" records use a
   topic vocabulary more often), or real titles/abstracts drawn from the labelled CSVs in
   --data-dir (made unique), with their gold labels. Preset `tfidf_svm` (no embedding pass).
2. Starts the real server (`triage serve --port 0 --no-browser`, waitress) in a subprocess.
3. Latency: one reviewer posts --decisions labels (the gold label) one after another; the round
   trip is POST /api/decide -> the next record's panel fully received. The retrain schedule
   (5 % of the labels so far, at least 1) keeps a background retrain running through most of it;
   decisions whose answer says "retraining in the background" are reported apart.
4. Concurrency: --reviewers reviewers (threads, one HTTP connection and session each) post
   --concurrent-decisions labels in total as fast as they can.
5. Verifies in the project (after stopping the server) that every acknowledged decision is stored
   exactly once (none lost, none duplicated), and counts HTTP errors.

Prints a Markdown summary and a JSON line (--out FILE also writes the JSON).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RECORD = re.compile(r'data-record-id="(\d+)"')
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


# -- the project --------------------------------------------------------------------------------
def synthetic_records(n: int, rng: np.random.Generator) -> tuple[list[dict], np.ndarray]:
    """n records of pseudo-words: titles of 8-15 words, abstracts of 120-250 words, drawn from a
    Zipf vocabulary of 6,000 words; ~3 % relevant records draw a third of their words from a
    topic vocabulary of 40 words. Returns (rows, gold labels)."""
    syll = np.array(["ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "pe", "da", "zu", "fi", "go", "he", "ji"])
    vocab = np.array(["".join(rng.choice(syll, size=rng.integers(2, 5))) + str(i % 7) for i in range(6000)])
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    p /= p.sum()
    topic = vocab[rng.choice(len(vocab), size=40, replace=False)]
    gold = (rng.random(n) < 0.03).astype(int)
    rows = []
    for i in range(n):
        def words(k: int) -> str:
            w = rng.choice(vocab, size=k, p=p)
            if gold[i]:
                mask = rng.random(k) < 0.33
                w[mask] = rng.choice(topic, size=int(mask.sum()))
            return " ".join(w)

        rows.append({"record_id": f"r{i}", "title": words(int(rng.integers(8, 16))).capitalize() + f" ({i})",
                     "abstract": words(int(rng.integers(120, 251))) + ".", "doi": f"10.9999/synthetic.{i}"})
    return rows, gold


def real_records(n: int, data_dir: Path, rng: np.random.Generator) -> tuple[list[dict], np.ndarray]:
    """n titles/abstracts drawn with replacement from the labelled CSVs of data_dir, made unique."""
    csv.field_size_limit(1 << 30)
    pool = []
    for f in sorted(data_dir.glob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            pool += [(r["title"], r["abstract"], int(r["label_included"])) for r in csv.DictReader(fh)]
    pick = rng.integers(0, len(pool), size=n)
    rows = [{"record_id": f"r{i}", "title": f"{pool[j][0]} ({i})", "abstract": pool[j][1], "doi": ""}
            for i, j in enumerate(pick)]
    return rows, np.array([pool[j][2] for j in pick])


def build_project(args, workdir: Path) -> tuple[Path, dict[str, int]]:
    """The project and {record title: gold label} (titles are unique)."""
    from triage.cli.main import cli

    rng = np.random.default_rng(args.seed)
    rows, gold = (real_records(args.records, Path(args.data_dir), rng) if args.data_dir
                  else synthetic_records(args.records, rng))
    data = workdir / "records.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["record_id", "title", "abstract", "doi"])
        w.writeheader()
        w.writerows(rows)
    proj = workdir / "proj"
    cli.main(["init", str(proj), "--preset", args.preset, "--question", "a synthetic review question"]
             + (["--dual"] if args.mode == "dual" else []), standalone_mode=False)
    cli.main(["import", str(proj), str(data)], standalone_mode=False)
    return proj, {r["title"]: int(g) for r, g in zip(rows, gold)}


# -- the client -------------------------------------------------------------------------------
class Reviewer:
    """One browser session over one keep-alive HTTP connection."""

    def __init__(self, url: str, name: str):
        u = urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        self.cookie = ""
        r = self.request("GET", f"/screen?{u.query}")
        self.cookie = r[2].get("Set-Cookie", "").split(";")[0]
        self.csrf = CSRF.search(self.request("GET", "/name")[1]).group(1)
        status, html, _ = self.request("POST", "/name", {"reviewer": name, "csrf": self.csrf})
        assert status == 302, status
        status, self.page, _ = self.request("GET", "/screen")
        assert status == 200, status

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": self.csrf}
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        text = r.read().decode("utf-8")
        return r.status, text, dict(r.getheaders())

    def shown(self) -> int | None:
        m = RECORD.search(self.page)
        return int(m.group(1)) if m else None

    def decide(self, label: str) -> tuple[int, int, float, bool, str]:
        """(status, record id, seconds, retraining, message) of labelling the record shown."""
        rid = self.shown()
        t = time.perf_counter()
        status, html, _ = self.request("POST", "/api/decide", {"record_id": rid, "action": label})
        seconds = time.perf_counter() - t
        if status == 200:
            self.page = html
        m = re.search(r'<p class="message" id="message">(.*?)</p>', html)
        return status, rid, seconds, "retraining in the background" in html, m.group(1) if m else ""


def gold_label(html: str, gold: dict[str, int]) -> str:
    """The reviewer's answer: the gold label of the title shown (the page shows it escaped)."""
    import html as h

    m = re.search(r'<h1 id="title">(.*?)</h1>', html, re.S)
    title = h.unescape(re.sub(r"<[^>]+>", "", m.group(1))) if m else ""
    return "include" if gold.get(title, 0) else "exclude"


def pct(xs, q) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q)) if len(xs) else float("nan")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True, help="A new folder for the project and the server log.")
    ap.add_argument("--records", type=int, default=13000)
    ap.add_argument("--data-dir", default=None, help="Draw real records from these labelled CSVs (else synthetic).")
    ap.add_argument("--preset", default="tfidf_svm")
    ap.add_argument("--decisions", type=int, default=400, help="Sequential decisions for the latency figures.")
    ap.add_argument("--reviewers", type=int, default=8)
    ap.add_argument("--concurrent-decisions", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=["single", "dual"], default="single",
                    help="dual: blinded dual screening (every reviewer screens the same top records).")
    ap.add_argument("--retrain-in", choices=["process", "thread"], default="process",
                    help="Where the server retrains (`triage serve --retrain-in`, hidden): its helper process "
                         "(the default) or a thread of the server process.")
    ap.add_argument("--out", default=None, help="Also write the JSON result here.")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=False)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    t0 = time.perf_counter()
    proj, gold = build_project(args, workdir)
    build_s = time.perf_counter() - t0
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = open(workdir / "serve.log", "w")
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "triage", "serve", str(proj), "--port", "0", "--no-browser",
                               "--preset", args.preset, "--retrain-in", args.retrain_in], stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    result: dict = {"records": args.records, "data": "real" if args.data_dir else "synthetic", "preset": args.preset,
                    "retrain_in": args.retrain_in, "mode": args.mode,
                    "cpus": os.cpu_count(), "python": platform.python_version(), "build_s": round(build_s, 1)}
    try:
        line = server.stdout.readline()
        m = re.search(r"(http://\S+/\?token=\S+)", line)
        if not m:
            raise SystemExit(f"the server printed no address: {line!r}; see {workdir / 'serve.log'}")
        url = m.group(1)
        result["startup_s"] = round(time.perf_counter() - t0, 1)  # includes the first ranking
        result["load_before"] = os.getloadavg()

        # 3. one reviewer, decisions one after another
        solo = Reviewer(url, "solo")
        lat, lat_retrain, errors, acked = [], [], 0, []
        for _ in range(args.decisions):
            label = gold_label(solo.page, gold)
            status, rid, s, retraining, msg = solo.decide(label)
            if status != 200:
                errors += 1
                continue
            acked.append(("solo", rid, label))
            (lat_retrain if retraining else lat).append(s)
        both = lat + lat_retrain
        result["sequential"] = {
            "decisions": args.decisions, "http_errors": errors,
            "p50_ms": round(pct(both, 50), 1), "p95_ms": round(pct(both, 95), 1), "max_ms": round(max(both) * 1000, 1),
            "during_retrain": len(lat_retrain), "p50_retrain_ms": round(pct(lat_retrain, 50), 1),
            "p95_retrain_ms": round(pct(lat_retrain, 95), 1), "p95_idle_ms": round(pct(lat, 95), 1)}

        # 4. reviewers at once
        per = [args.concurrent_decisions // args.reviewers + (k < args.concurrent_decisions % args.reviewers)
               for k in range(args.reviewers)]
        reviewers = [Reviewer(url, f"reviewer{k + 1}") for k in range(args.reviewers)]
        lock = threading.Lock()
        conc_lat, conc_errors, refused, conc_retrain = [], [], [], 0

        def work(rev: Reviewer, n: int) -> None:
            nonlocal conc_retrain
            for _ in range(n):
                label = gold_label(rev.page, gold)
                try:
                    status, rid, s, retraining, msg = rev.decide(label)
                except Exception as e:  # counted, never hidden
                    with lock:
                        conc_errors.append(repr(e))
                    return
                with lock:
                    if status != 200:
                        conc_errors.append(status)
                    elif "already labelled" in msg:
                        refused.append(rid)
                    else:
                        acked.append((rev_name[rev], rid, label))
                        conc_lat.append(s)
                        conc_retrain += retraining

        rev_name = {r: f"reviewer{k + 1}" for k, r in enumerate(reviewers)}
        t0 = time.perf_counter()
        threads = [threading.Thread(target=work, args=(r, n)) for r, n in zip(reviewers, per)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        result["concurrent"] = {
            "reviewers": args.reviewers, "decisions": args.concurrent_decisions, "acknowledged": len(conc_lat),
            "http_errors": len(conc_errors), "refused_as_already_labelled": len(refused),
            "wall_s": round(wall, 1), "decisions_per_s": round(len(conc_lat) / wall, 1),
            "p50_ms": round(pct(conc_lat, 50), 1), "p95_ms": round(pct(conc_lat, 95), 1),
            "during_retrain": conc_retrain}
        result["load_after"] = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=120)
        log.close()

    # 5. every acknowledged decision stored exactly once
    from triage.store.project import Project

    with Project.open(proj, readonly=True) as p:
        events = p.label_events()
        n_rounds = len(p.rounds())
    stored = [(e.reviewer, e.record_id, e.label) for e in events]
    from collections import Counter

    count = Counter(stored)
    result["verify"] = {"acknowledged": len(acked), "stored_events": len(stored),
                        "lost": sum(1 for a in acked if count[a] == 0),
                        # no undo here: one event per record (dual mode: per reviewer and record)
                        "duplicated": sum(c - 1 for c in Counter((w if args.mode == "dual" else "", r)
                                                                 for w, r, _ in stored).values() if c > 1),
                        "not_acknowledged_but_stored": sum(1 for s in count if s not in set(acked)),
                        "rounds": n_rounds}
    print(json.dumps(result))
    s, c, v = result["sequential"], result["concurrent"], result["verify"]
    print(f"""
| {args.records:,} records ({result['data']}, {args.preset}, {args.mode} mode, retrain in a {args.retrain_in}) | |
|---|---|
| round trip, {s['decisions']} decisions one after another | p50 {s['p50_ms']} ms, p95 **{s['p95_ms']} ms** (max {s['max_ms']} ms) |
| of them while a retrain ran ({s['during_retrain']}) | p50 {s['p50_retrain_ms']} ms, p95 **{s['p95_retrain_ms']} ms** |
| {c['reviewers']} reviewers at once, {c['decisions']:,} decisions | {c['wall_s']} s ({c['decisions_per_s']}/s), p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms; {c['during_retrain']} during a retrain |
| HTTP errors | {s['http_errors'] + c['http_errors']} |
| acknowledged / stored / lost / duplicated | {v['acknowledged']} / {v['stored_events']} / **{v['lost']}** / **{v['duplicated']}** |
| rounds stored | {v['rounds']} |
""")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
