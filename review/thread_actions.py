"""What a reviewer can do to a whole thread from the thread view: bulk actions on its replies, and resolving it.

Bulk actions go through the store one reply at a time (`decide` / `undo`), so each reply gets its own
compare-and-set and exactly one audit row, whose note names the bulk action. A reply another reviewer holds a
fresh claim on, or that changed meanwhile, is skipped and reported, never taken over:

- `confirm_hidden`: every open reply the model hid is decided harassing (the hide is confirmed);
- `hide_above`: every open reply with P(harassing) ≥ `min_score` is decided harassing;
- `restore`: the reviewer's own decisions on the chosen replies (all their decisions in the thread when none is
  chosen) are undone: the replies are open again, as before the bulk action.

Resolving decides the thread's queue item (kind "thread"), which takes "resolved" or "escalate", never a label;
the note records what was done on the platform: the thread locked, support sent to the survivor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from review.models import OPEN_STATUSES
from review.store import THREAD_DECISIONS, Conflict, ReviewError, ReviewStore
from withyou.labels import HARASSING

BULK_ACTIONS = {"confirm_hidden": "confirm all hidden", "hide_above": "hide all at or above", "restore": "restore"}
RESOLUTION_NOTES = {"locked": "thread locked", "support_sent": "support sent"}


@dataclass
class BulkResult:
    action: str
    decided: list[int] = field(default_factory=list)  # items changed (decided, or undone by restore)
    skipped: list[int] = field(default_factory=list)  # claimed by another reviewer, changed meanwhile, not yours


def bulk_action(
    store: ReviewStore,
    thread_id: str,
    reviewer: str,
    action: str,
    min_score: float | None = None,
    item_ids: Iterable[int] = (),
) -> BulkResult:
    """Apply one bulk action to the thread's replies; one audit row per reply changed."""
    if action not in BULK_ACTIONS:
        raise ReviewError(f"action must be one of {', '.join(BULK_ACTIONS)}; got {action[:40]!r}")
    if action == "hide_above" and (min_score is None or not 0.0 <= min_score <= 1.0):
        raise ReviewError("hide_above needs min_score between 0 and 1")
    replies = store.thread_view(thread_id)["replies"]
    chosen = set(item_ids)
    strangers = chosen - {reply["id"] for reply in replies}
    if strangers:
        raise ReviewError(f"item {min(strangers)} is not a reply in this thread")
    note = f"thread bulk action: {BULK_ACTIONS[action]}" + (f" {min_score:.2f}" if action == "hide_above" else "")
    result = BulkResult(action)
    for reply in replies:
        if not concerned(reply, action, reviewer, min_score, chosen):
            continue
        try:
            if action == "restore":
                store.undo(reviewer, reply["id"])
            else:
                store.decide(reply["id"], reviewer, HARASSING, note)
        except Conflict:
            result.skipped.append(reply["id"])
        else:
            result.decided.append(reply["id"])
    return result


def concerned(reply: dict[str, Any], action: str, reviewer: str, min_score: float | None, chosen: set[int]) -> bool:
    """Whether `action` applies to this reply (before the store's own checks: claims, concurrent changes)."""
    if action == "restore":
        return reply["id"] in chosen if chosen else reply["decided_by"] == reviewer
    if reply["status"] not in OPEN_STATUSES or reply["purged"]:
        return False
    if action == "confirm_hidden":
        return reply["action"] == "hide"
    return reply["harassing_score"] >= min_score


def resolve_thread(
    store: ReviewStore,
    item_id: int,
    reviewer: str,
    decision: str,
    locked: bool = False,
    support_sent: bool = False,
    note: str | None = None,
) -> dict[str, Any]:
    """Decide a thread item ("resolved" or "escalate"); the note says what was done: thread locked, support sent."""
    if store.item(item_id)["kind"] != "thread":
        raise ReviewError(f"item {item_id} is not a thread item")
    if decision not in THREAD_DECISIONS:
        raise ReviewError(f"a thread's decision must be one of {', '.join(THREAD_DECISIONS)}; got {decision[:40]!r}")
    done = [RESOLUTION_NOTES[name] for name, flag in (("locked", locked), ("support_sent", support_sent)) if flag]
    parts = ["; ".join(done)] if done else []
    parts += [note.strip()] if note and note.strip() else []
    return store.decide(item_id, reviewer, decision, " · ".join(parts) or None)
