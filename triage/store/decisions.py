"""The decision per record, computed ONCE from a project's label events (pure: no database).

Every label event is (id, record, label or None, origin, reviewer, round, kind). `kind` says what
the event is:
  decision   - one reviewer's own label of a record (None: that reviewer undid it);
  resolution - a settled label after reviewers disagreed (`triage resolve`; None: undone);
  import     - a label that came with an imported file (settled before screening began).

Two project modes (project meta `mode`):
  single - one label per record: the latest event of any kind and any reviewer (triage <= 0.1).
  dual   - blinded dual screening: every reviewer's latest decision is kept on its own. A
           record is *settled* by its latest resolution/import event, else *agreed* when at
           least two reviewers decided and all agree; it is in *conflict* when reviewers differ,
           and *awaiting* a second reviewer when only one decided.

Ranking policy in dual mode (what the model trains on and stopping rules count): settled and
agreed records count with their label; a conflict counts with the most inclusive of its labels
(include > maybe > exclude), so a disagreement never pushes a possibly relevant record down the
ranking and recall is never traded away; a record awaiting its second reviewer counts with the
one label given so far. Final counts (PRISMA, exports of decisions) use settled and agreed
records only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

MODES = ("single", "dual")
KINDS = ("decision", "resolution", "import")
#: Which label wins an unresolved disagreement for ranking: the most inclusive.
_INCLUSIVENESS = {"include": 2, "maybe": 1, "exclude": 0}

SETTLED, AGREED, CONFLICT, AWAITING, SINGLE = "resolved", "agreed", "conflict", "awaiting second reviewer", "single"


class Event(NamedTuple):
    id: int
    record_id: int
    label: str | None
    origin: str
    reviewer: str
    round_id: int | None
    kind: str = "decision"


@dataclass
class RecordState:
    """The label events of one record, folded: each reviewer's current label and the settled label."""

    by_reviewer: dict = field(default_factory=dict)  # reviewer -> current label (undone: absent)
    settled: str | None = None  # latest resolution / import label (None: none, or undone)
    latest: str | None = None  # the latest event's label, any kind (single mode)
    notes: dict = field(default_factory=dict)  # reviewer -> (note, reason) of their current label

    def apply(self, e: Event, note: str = "", reason: str = "") -> None:
        self.latest = e.label
        if e.kind == "decision":
            if e.label is None:
                self.by_reviewer.pop(e.reviewer, None)
                self.notes.pop(e.reviewer, None)
            else:
                self.by_reviewer[e.reviewer] = e.label
                self.notes[e.reviewer] = (note, reason)
        else:
            self.settled = e.label

    def status(self, mode: str) -> str | None:
        """SINGLE / SETTLED / AGREED / CONFLICT / AWAITING, or None when the record has no label."""
        if mode == "single":
            return SINGLE if self.latest is not None else None
        if self.settled is not None:
            return SETTLED
        labels = set(self.by_reviewer.values())
        if not labels:
            return None
        if len(labels) > 1:
            return CONFLICT
        return AGREED if len(self.by_reviewer) >= 2 else AWAITING

    def final(self, mode: str) -> str | None:
        """The record's final label: single mode's latest label; in dual mode the settled or agreed
        label (None while in conflict or awaiting a second reviewer)."""
        if mode == "single":
            return self.latest
        if self.settled is not None:
            return self.settled
        labels = set(self.by_reviewer.values())
        return labels.pop() if len(labels) == 1 and len(self.by_reviewer) >= 2 else None

    def for_ranking(self, mode: str) -> str | None:
        """The label the model trains on (see the module docstring for the dual-mode policy)."""
        if mode == "single":
            return self.latest
        if self.settled is not None:
            return self.settled
        if not self.by_reviewer:
            return None
        return max(self.by_reviewer.values(), key=_INCLUSIVENESS.__getitem__)


def fold(events: Iterable[Event], mode: str, on_change=None,
         notes: dict | None = None) -> dict[int, RecordState]:
    """record id -> RecordState after all `events` (in id order).

    on_change(event, was_labelled, is_labelled): called after each event with whether the record
    had / has a ranking label, so a caller can place records in labelling order. notes: event id ->
    (note, reason), kept per reviewer."""
    if mode not in MODES:
        raise ValueError(f"unknown project mode {mode!r} (use {' or '.join(MODES)})")
    states: dict[int, RecordState] = {}
    for e in events:
        s = states.setdefault(e.record_id, RecordState())
        was = s.for_ranking(mode) is not None
        note, reason = (notes or {}).get(e.id, ("", ""))
        s.apply(e, note, reason)
        if on_change is not None:
            on_change(e, was, s.for_ranking(mode) is not None)
    return states


def ranking_labels(events: Iterable[Event], mode: str) -> tuple[dict[int, str], dict[int, Event]]:
    """({record: ranking label}, {record: the event that placed it in the history}) for labelled
    records. A record is placed by the event that gave it a ranking label after it had none (an
    undo that leaves it unlabelled removes it; a later label places it again, at that time)."""
    placed: dict[int, Event] = {}

    def on_change(e: Event, was: bool, now: bool) -> None:
        if was and not now:
            placed.pop(e.record_id, None)
        elif now and not was:
            placed[e.record_id] = e

    states = fold(events, mode, on_change)
    labels = {rid: s.for_ranking(mode) for rid, s in states.items() if s.for_ranking(mode) is not None}
    return labels, {rid: placed[rid] for rid in labels}


def done_for(states: dict[int, RecordState], mode: str, reviewer: str) -> set[int]:
    """Records a reviewer need not be shown again: single mode, every labelled record; dual mode,
    those the reviewer decided plus those settled (resolved or imported with a label)."""
    if mode == "single":
        return {rid for rid, s in states.items() if s.latest is not None}
    return {rid for rid, s in states.items() if reviewer in s.by_reviewer or s.settled is not None}
