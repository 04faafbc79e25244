"""Stopping rules: pure functions of the labelling history (and current scores where needed)."""
