"""The retrain process of `triage serve`: `python -m triage.web.retrain DIR [--preset P] [--retrain-every N]`.

Retraining holds Python's GIL for most of a second on a large project (building the corpus,
stopping rules); in the server's own process that stalls every request thread for as long. So
the server's retrain thread hands each retrain to this one long-lived process (imports once,
runs on another core): per line "check" on stdin it runs `service.round_due` and, when due,
`service.rank` and `service.summary_line`, answering JSON lines on stdout:
{"event": "started"} before a retrain, then {"event": "done", "ranked": bool, "summary": str|null,
"error": str}. An empty stdin ends it.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m triage.web.retrain")
    ap.add_argument("directory")
    ap.add_argument("--preset", default=None)
    ap.add_argument("--retrain-every", type=int, default=None)
    args = ap.parse_args(argv)

    import signal

    from triage.service import rank, round_due, summary_line
    from triage.store.project import Project

    # Ctrl-C in the server's terminal reaches this process too: finish the retrain in progress and
    # end when the server closes stdin (or dies), never with a traceback in the middle of a round
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def say(**msg) -> None:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    say(event="ready")
    for line in sys.stdin:
        if line.strip() != "check":
            continue
        ranked, summary, error = False, None, ""
        try:
            with Project.open(args.directory, on_wait=lambda m: print(m, file=sys.stderr, flush=True)) as p:
                if round_due(p, args.preset, args.retrain_every):
                    say(event="started")
                    rank(p, args.preset, progress=False)
                    ranked = True
                    summary = summary_line(p) if p.mode() == "single" else ""
        except Exception as e:  # reported to the server, which shows it on the page
            error = f"{type(e).__name__}: {e}"
        say(event="done", ranked=ranked, summary=summary, error=error)


if __name__ == "__main__":
    main()
