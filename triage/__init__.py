"""triage: offline-first active learning for title/abstract screening.

Data flows one way: io -> store -> features -> learn -> rank -> stopping -> report.
The same round function (`triage.learn.round.run_round`) serves live screening and simulation.
"""

__version__ = "0.1.0"
