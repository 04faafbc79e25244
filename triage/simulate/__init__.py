"""Simulation: a gold-label oracle drives the same round code as live screening; metrics."""
