"""`python -m triage ...`: the same as the `triage` command (used to start background passes)."""

from triage.cli.main import main

main()
