"""Labeller run (and SIGKILLed) by test_kill.py: labels records one transaction at a time.

Usage: python _kill_labeller.py PROJECT_DIR. Prints "start", then "<record id> <label>" for each
label only after its commit returned (flushed). Unlabelled records go first; once the pool is
empty it keeps relabelling, so it never finishes on its own."""

import itertools
import sys

from triage.store.project import Project

with Project.open(sys.argv[1]) as project:
    done = project.current_labels()
    ids = [int(i) for i in project.record_ids()]
    order = [i for i in ids if i not in done] + [i for i in ids if i in done]
    print("start", flush=True)
    for n, rid in enumerate(itertools.cycle(order)):
        label = ("include", "exclude", "maybe")[(rid + n) % 3]
        project.add_labels([(rid, label)], reviewer="kill-test", origin="ranked")
        print(rid, label, flush=True)
