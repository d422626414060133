"""The review store on a real PostgreSQL server: export, racing reviewers, and a `kill -9` of the server while
decisions are being made (issue 13: no acknowledged decision lost, none duplicated, the store reconnects).

The store's other behaviours run on PostgreSQL too: every test in test_store.py is parametrised over SQLite and
PostgreSQL. Each test gets a fresh database; the kill test gets a server of its own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from review.export import export_reviewed
from review.models import AuditEntry, ReviewItem
from review.database import engine_for
from review.store import Conflict, ReviewStore
from tests.components import missing_component
from tests.review.helpers import candidate
from tests.review.postgres import PostgresServer, postgres_bin_dir
from withyou.records import read_jsonl

ROUNDS = 20
KILL_ITEMS = 240
DECIDERS = 2
KILL_AFTER_DECISIONS = 40
RECOVERY_DEADLINE_S = 45


@pytest.fixture
def store(postgres_url) -> ReviewStore:
    return ReviewStore(postgres_url)


def test_export_reads_decisions_from_postgresql(store, tmp_path):
    kept = store.enqueue(candidate("kept", 0.9, text="you asked for it", parent_text="he followed me home"))
    store.enqueue(candidate("open", 0.5))
    store.decide(kept, "alice", "harassing")

    summary = export_reviewed(store, tmp_path / "reviewed.jsonl")

    (record,) = read_jsonl(summary.path)
    assert (record.id, record.label, record.parent_text) == (f"review-{kept}", "harassing", "he followed me home")


def race(action, reviewers: tuple[str, ...]) -> dict[str, str]:
    """Run `action(reviewer)` for every reviewer at the same instant; {reviewer: "won" or the Conflict message}."""
    barrier = threading.Barrier(len(reviewers))
    outcome: dict[str, str] = {}

    def attempt(reviewer: str) -> None:
        barrier.wait()
        try:
            action(reviewer)
            outcome[reviewer] = "won"
        except Conflict as exc:
            outcome[reviewer] = exc.message

    threads = [threading.Thread(target=attempt, args=(name,)) for name in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcome


@pytest.mark.parametrize("change", ["claim", "decide"])
def test_two_reviewers_racing_for_one_item_exactly_one_wins(store, change):
    conflicts: Counter[str] = Counter()
    for n in range(ROUNDS):
        item_id = store.enqueue(candidate(f"race-{change}-{n}", 0.6))
        if change == "claim":
            outcome = race(lambda reviewer: store.claim(item_id, reviewer), ("alice", "bob"))
        else:
            outcome = race(lambda reviewer: store.decide(item_id, reviewer, "neutral"), ("alice", "bob"))

        winners = [name for name, result in outcome.items() if result == "won"]
        assert len(winners) == 1, outcome
        item, audit = store.item(item_id), store.audit(item_id)
        assert (item["claimed_by"] if change == "claim" else item["decided_by"]) == winners[0]
        assert [(e["event"], e["reviewer"]) for e in audit] == [(change, winners[0])]
        conflicts.update("lost the write race" if "changed while" in m else "saw the winner" for m in outcome.values() if m != "won")
    print(f"\n{change} races on PostgreSQL: {ROUNDS} rounds, one winner each; losers: {dict(conflicts)}")


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        missing_component("PostgreSQL is not installed (no initdb/pg_ctl): scripts/setup-postgres.sh installs it")
    server = PostgresServer(bin_dir).init()
    yield server
    server.stop()


class Decider(threading.Thread):
    """Decides its items one after the other, retrying through errors, and records what was acknowledged."""

    def __init__(self, store: ReviewStore, reviewer: str, item_ids: list[int], deadline: float) -> None:
        super().__init__(daemon=True)
        self.store, self.reviewer, self.item_ids, self.deadline = store, reviewer, item_ids, deadline
        self.acknowledged: dict[int, float] = {}  # item id → when decide() returned
        self.in_doubt: set[int] = set()  # a try failed; a later try found it already decided (its commit survived)
        self.errors: Counter[str] = Counter()

    def label_for(self, item_id: int) -> str:
        return ("harassing", "supportive", "neutral", "disclosure")[item_id % 4]

    def run(self) -> None:
        for item_id in self.item_ids:
            failed_before = False
            while time.monotonic() < self.deadline:
                try:
                    self.store.decide(item_id, self.reviewer, self.label_for(item_id))
                    self.acknowledged[item_id] = time.monotonic()
                    break
                except Conflict:
                    assert failed_before, f"item {item_id} conflicted without an earlier failed try"
                    self.in_doubt.add(item_id)
                    break
                except SQLAlchemyError as exc:
                    failed_before = True
                    self.errors[type(exc).__name__] += 1
                    time.sleep(0.05)


def test_kill_9_of_postgresql_mid_decisions_loses_and_duplicates_nothing(own_postgres):
    url = own_postgres.create_database("review_kill")
    store = ReviewStore(url)
    ids = [store.enqueue(candidate(f"kill-{n}", 0.5 + n / 1000)) for n in range(KILL_ITEMS)]
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    deciders = [Decider(store, f"reviewer{k}", ids[k::DECIDERS], deadline) for k in range(DECIDERS)]
    started = time.monotonic()
    for decider in deciders:
        decider.start()
    while sum(len(d.acknowledged) for d in deciders) < KILL_AFTER_DECISIONS and time.monotonic() < deadline:
        time.sleep(0.005)

    acknowledged_before_kill = sum(len(d.acknowledged) for d in deciders)
    killed_at = time.monotonic()
    own_postgres.kill9()
    time.sleep(0.5)  # the deciders hit a dead server for a while
    own_postgres.start()
    restarted_at = time.monotonic()
    for decider in deciders:
        decider.join(RECOVERY_DEADLINE_S)
    finished = time.monotonic()

    acknowledged = {item_id: d.label_for(item_id) for d in deciders for item_id in d.acknowledged}
    in_doubt = set().union(*(d.in_doubt for d in deciders))
    after_restart = [t for d in deciders for t in d.acknowledged.values() if t > restarted_at]
    with engine_for(url).connect() as connection:
        decided = dict(connection.execute(select(ReviewItem.id, ReviewItem.decided_label).where(ReviewItem.status == "decided")).all())
        decide_rows = Counter(connection.execute(select(AuditEntry.item_id).where(AuditEntry.event == "decide")).scalars())
        audit_total = connection.execute(select(func.count()).select_from(AuditEntry)).scalar()

    lost = {i: label for i, label in acknowledged.items() if decided.get(i) != label}
    duplicated = {i: n for i, n in decide_rows.items() if n > 1}
    print(
        f"\nkill -9 on PostgreSQL: {KILL_ITEMS} items, {DECIDERS} deciders; killed after {acknowledged_before_kill} "
        f"acknowledged decisions ({killed_at - started:.2f} s); server back in {restarted_at - killed_at:.2f} s; "
        f"first decision after restart {min(after_restart, default=float('nan')) - restarted_at:.2f} s later; "
        f"all done {finished - started:.2f} s. acknowledged {len(acknowledged)}, in doubt then found committed "
        f"{len(in_doubt)}, errors {dict(sum((d.errors for d in deciders), Counter()))}; decided rows {len(decided)}, "
        f"decide audit rows {sum(decide_rows.values())} (total audit {audit_total}); lost {len(lost)}, duplicated {len(duplicated)}"
    )  # fmt: skip
    assert not any(d.is_alive() for d in deciders), "a decider never got its items through after the restart"
    assert sum(sum(d.errors.values()) for d in deciders) > 0, "the kill happened after the deciders had finished"
    assert after_restart, "no decision was acknowledged after the restart: the store did not reconnect"
    assert lost == {} and duplicated == {}
    assert set(decided) == set(ids) == set(acknowledged) | in_doubt
    assert set(decide_rows) == set(decided) and audit_total == len(ids)
