"""Appeals in the review store (issue 21 item 6), on SQLite and PostgreSQL: who may appeal what, the original
decider refused, another reviewer's outcome, the corrected label in the export, the rates, retention, and the
statement kept out of logs and error messages."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from review.appeals import MAX_STATEMENT_CHARS
from review.export import APPEAL_CORRECTION_TAG, export_reviewed
from review.models import utc_now
from review.store import Conflict, Forbidden, NotFound, ReviewError, ReviewStore
from tests.review.helpers import candidate
from withyou.records import read_jsonl

STATEMENT = "STATEMENT-7f3a: I was quoting what he wrote to me, to show people what he did."


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> ReviewStore:
    if request.param == "postgresql":
        return ReviewStore(request.getfixturevalue("postgres_url"))
    return ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")


def hidden_post(store: ReviewStore, external_id: str = "post-1", decider: str = "alice") -> int:
    """A post the model hid and `decider` confirmed harassing."""
    item_id = store.enqueue(candidate(external_id, 0.93, text="you are a liar", parent_text="he assaulted me"))
    store.decide(item_id, decider, "harassing")
    return item_id


def test_an_appeal_opens_for_a_hidden_post_with_the_statement_and_the_decision(store):
    post = hidden_post(store)

    appeal = store.open_appeal("post-1", STATEMENT)

    assert (appeal["status"], appeal["statement"], appeal["appealed_label"]) == ("pending", STATEMENT, "harassing")
    assert appeal["original"]["id"] == post and appeal["original"]["decided_by"] == "alice"
    assert appeal["priority_class"] == "appeal" and appeal["age_seconds"] is not None
    assert store.item(post)["status"] == "decided"  # the post keeps its decision while appealed


def test_the_original_decider_can_neither_claim_nor_decide_the_appeal(store):
    hidden_post(store, decider="alice")
    appeal_id = store.open_appeal("post-1", STATEMENT)["id"]

    with pytest.raises(Forbidden, match="you \\(alice\\) made the decision under appeal") as refused:
        store.decide_appeal(appeal_id, "alice", "overturned", "supportive")
    with pytest.raises(Forbidden):
        store.claim(appeal_id, "alice")

    assert refused.value.status == 403
    assert store.appeal(appeal_id)["status"] == "pending" and store.audit(appeal_id) == []


def test_another_reviewer_upholds_the_decision(store):
    hidden_post(store, decider="alice")
    appeal_id = store.open_appeal("post-1", STATEMENT)["id"]

    decided = store.decide_appeal(appeal_id, "bob", "upheld", note="the reply attacks her")

    assert (decided["status"], decided["outcome"], decided["label"], decided["decided_by"]) == (
        "decided", "upheld", "harassing", "bob")  # fmt: skip
    (entry,) = store.audit(appeal_id)
    assert (entry["event"], entry["reviewer"], entry["after"]["appeal_outcome"]) == ("decide", "bob", "upheld")


def test_another_reviewer_overturns_it_with_a_corrected_label(store):
    hidden_post(store, decider="alice")
    appeal_id = store.open_appeal("post-1", STATEMENT)["id"]
    store.claim(appeal_id, "bob")

    decided = store.decide_appeal(appeal_id, "bob", "overturned", "supportive")

    assert (decided["outcome"], decided["label"]) == ("overturned", "supportive")
    assert [e["event"] for e in store.audit(appeal_id)] == ["decide", "claim"]


@pytest.mark.parametrize(
    ("outcome", "label", "message"),
    [
        ("reversed", None, "outcome must be one of upheld, overturned"),
        ("overturned", None, "needs the corrected label"),
        ("overturned", "harassing", "corrected label must be one of"),
        ("overturned", "not_a_label", "corrected label must be one of"),
        ("upheld", "neutral", "keeps the label harassing"),
    ],
)
def test_an_outcome_that_does_not_fit_is_a_400(store, outcome, label, message):
    hidden_post(store)
    appeal_id = store.open_appeal("post-1", STATEMENT)["id"]

    with pytest.raises(ReviewError, match=message) as refused:
        store.decide_appeal(appeal_id, "bob", outcome, label)

    assert refused.value.status == 400 and store.appeal(appeal_id)["status"] == "pending"


def test_an_appeal_is_decided_once(store):
    hidden_post(store)
    appeal_id = store.open_appeal("post-1", STATEMENT)["id"]
    store.decide_appeal(appeal_id, "bob", "upheld")

    with pytest.raises(Conflict, match="already decided \\(upheld\\) by bob"):
        store.decide_appeal(appeal_id, "carol", "overturned", "neutral")


def test_only_a_decided_hidden_post_can_be_appealed_once(store):
    store.enqueue(candidate("open", 0.9))
    store.decide(store.enqueue(candidate("restored", 0.9)), "alice", "supportive")
    store.decide(store.enqueue(candidate("escalated", 0.9)), "alice", "escalate")
    hidden_post(store, "twice")
    store.open_appeal("twice", STATEMENT)

    refusals = {}
    for external_id in ("nowhere", "open", "restored", "escalated", "twice"):
        with pytest.raises(ReviewError) as refused:
            store.open_appeal(external_id, STATEMENT)
        refusals[external_id] = (refused.value.status, refused.value.message)

    assert refusals["nowhere"] == (404, "no reviewed post has the id 'nowhere'")
    assert refusals["open"][0] == 409 and "no reviewer decision yet (it is pending)" in refusals["open"][1]
    assert refusals["restored"][0] == 409 and "decided supportive, which does not hide it" in refusals["restored"][1]
    assert refusals["escalated"][0] == 409 and "no reviewer decision yet (it is escalated)" in refusals["escalated"][1]
    assert refusals["twice"][0] == 409 and "already appealed" in refusals["twice"][1]
    assert all(STATEMENT not in message for _, message in refusals.values())


@pytest.mark.parametrize("statement", ["", "   \n ", "x" * (MAX_STATEMENT_CHARS + 1)])
def test_an_empty_or_too_long_statement_is_a_400_that_does_not_quote_it(store, statement):
    hidden_post(store)

    with pytest.raises(ReviewError) as refused:
        store.open_appeal("post-1", statement)

    assert refused.value.status == 400 and "xxxx" not in refused.value.message
    assert store.appeals() == []


def test_two_appeals_of_one_post_at_the_same_instant_open_one(store):
    hidden_post(store)
    barrier, outcomes = threading.Barrier(2), []

    def appeal() -> None:
        barrier.wait()
        try:
            outcomes.append(store.open_appeal("post-1", STATEMENT)["id"])
        except Conflict as exc:
            outcomes.append(exc.message)

    runs = [threading.Thread(target=appeal) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)

    assert len(store.appeals()) == 1
    assert sorted(type(o).__name__ for o in outcomes) == ["int", "str"] and any("already appealed" in str(o) for o in outcomes)


def test_the_appealed_decision_cannot_be_undone_but_the_appeal_decision_can(store):
    post = hidden_post(store, decider="alice")
    appeal_id = store.open_appeal("post-1", STATEMENT)["id"]

    with pytest.raises(Conflict, match=f"was appealed \\(appeal {appeal_id}\\)"):
        store.undo("alice", post)
    store.decide_appeal(appeal_id, "bob", "overturned", "neutral")
    undone = store.undo("bob")  # bob's latest decision: the appeal

    assert undone["id"] == appeal_id and (undone["status"], undone["appeal_outcome"]) == ("pending", None)
    assert store.appeal(appeal_id)["outcome"] is None


def test_the_queue_decide_route_refuses_an_appeal(store):
    hidden_post(store)
    appeal_id = store.open_appeal("post-1", STATEMENT)["id"]

    with pytest.raises(Conflict, match="is an appeal: decide it upheld or overturned"):
        store.decide(appeal_id, "bob", "neutral")


def test_appeals_are_listed_oldest_first_and_not_in_the_review_queue(store):
    for n in range(3):
        hidden_post(store, f"post-{n}")
    opened = [store.open_appeal(f"post-{n}", STATEMENT)["id"] for n in (2, 0, 1)]
    store.enqueue(candidate("still-open", 0.5))

    assert [a["id"] for a in store.appeals()] == opened
    assert [i["external_id"] for i in store.queue()] == ["still-open"]
    assert store.counts()["pending"] == 1
    assert store.next_appeal_for("alice") is None  # every decision here is alice's
    assert store.next_appeal_for("bob") == opened[0]
    with pytest.raises(NotFound):
        store.appeal(store.queue()[0]["id"])  # a post is no appeal


def test_an_overturned_appeal_is_a_corrected_label_in_the_export_marked_as_such(store, tmp_path):
    overturned = hidden_post(store, "overturned")
    upheld = hidden_post(store, "upheld")
    plain = hidden_post(store, "plain")
    store.decide_appeal(store.open_appeal("overturned", STATEMENT)["id"], "bob", "overturned", "supportive")
    store.decide_appeal(store.open_appeal("upheld", STATEMENT)["id"], "bob", "upheld")

    summary = export_reviewed(store, tmp_path / "reviewed.jsonl")
    rows = {row["id"]: row for row in map(json.loads, (tmp_path / "reviewed.jsonl").read_text().splitlines())}
    records = {r.id: r for r in read_jsonl(summary.path)}

    corrected = rows[f"review-{overturned}"]
    assert (corrected["label"], corrected["appeal_correction"], corrected["overturned_label"]) == (
        "supportive", True, "harassing")  # fmt: skip
    assert APPEAL_CORRECTION_TAG in corrected["tags"] and "review:corrected" in corrected["tags"]
    assert corrected["text"] == "you are a liar" and STATEMENT not in json.dumps(rows)
    assert rows[f"review-{upheld}"]["label"] == "harassing" and rows[f"review-{upheld}"]["appeal_correction"] is False
    assert rows[f"review-{plain}"]["tags"] == ["review:confirmed"]
    assert records[f"review-{overturned}"].label == "supportive"  # the dataset schema reads it
    assert (summary.written, summary.appeal_corrections) == (3, 1)


def test_appeal_and_overturn_rates_per_label(store):
    for n in range(4):
        hidden_post(store, f"post-{n}")
    store.decide(store.enqueue(candidate("neutral", 0.2)), "alice", "neutral")
    store.decide_appeal(store.open_appeal("post-0", STATEMENT)["id"], "bob", "overturned", "supportive")
    store.decide_appeal(store.open_appeal("post-1", STATEMENT)["id"], "bob", "upheld")
    store.open_appeal("post-2", STATEMENT)

    rates = store.status_report()["appeals"]

    assert (rates["open"], rates["decided"]) == (1, 2)
    assert rates["by_label"] == {"harassing": {
        "decided": 4, "appealed": 3, "appeals_decided": 2, "overturned": 1, "appeal_rate": 0.75, "overturn_rate": 0.5,
    }}  # fmt: skip


def test_retention_blanks_the_statement_of_decided_appeals_only(store):
    hidden_post(store, "decided")
    hidden_post(store, "open")
    decided = store.open_appeal("decided", STATEMENT)["id"]
    still_open = store.open_appeal("open", STATEMENT)["id"]
    store.decide_appeal(decided, "bob", "upheld")

    store.purge(older_than_days=1, now=utc_now() + timedelta(days=2))

    assert store.appeal(decided)["statement"] is None and store.appeal(decided)["purged"]
    assert store.appeal(still_open)["statement"] == STATEMENT
    assert STATEMENT not in repr(store.audit(decided))
