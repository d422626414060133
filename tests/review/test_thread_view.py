"""The thread view's data and actions (review/threads.py: thread_view, review/thread_actions.py), on a real SQLite
file and a real PostgreSQL server: the disclosure, the replies riskiest first, the text-free counts, the thread
item's own decisions (resolved / escalate, never a label), and the bulk actions with one audit row per item."""

from __future__ import annotations

import pytest

from review.store import ReviewError, ReviewStore
from review.thread_actions import bulk_action, resolve_thread
from serving.hooks import ReviewCandidate, ThreadReply, now_utc

DISCLOSURE = "it happened to me at work and nobody believed me"
SCORES = {"disclosure": 0.9, "supportive": 0.04, "harassing": 0.03, "neutral": 0.03}


def reply(thread_id: str, n: int, harassing: float, action: str = "review", parent: str | None = DISCLOSURE) -> ReviewCandidate:
    rest = (1.0 - harassing) / 3
    return ReviewCandidate(
        id=f"{thread_id}-r{n}", text=f"reply {n}", parent_text=parent,
        label="harassing" if harassing >= 0.5 else "supportive",
        scores={"disclosure": rest, "supportive": rest, "harassing": harassing, "neutral": rest},
        action=action, model_version="test-model", classified_at=now_utc(), thread_id=thread_id,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> ReviewStore:
    if request.param == "postgresql":
        return ReviewStore(request.getfixturevalue("postgres_url"))
    return ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")


def pile_on(store: ReviewStore, thread_id: str = "t1") -> dict[str, int]:
    """Six queued replies (four hidden, the fifth tips the thread), one benign counted reply; {external id: item id}."""
    scores = {1: 0.97, 2: 0.91, 3: 0.62, 4: 0.88, 5: 0.55, 6: 0.2}
    actions = {1: "hide", 2: "hide", 3: "review", 4: "hide", 5: "review", 6: "review"}
    ids = {}
    for n, score in scores.items():
        ids[f"{thread_id}-r{n}"] = store.enqueue(reply(thread_id, n, score, actions[n]),
                                                 parent_scores=SCORES if n != 5 else None)  # fmt: skip
    store.count_reply(ThreadReply(f"{thread_id}-ok", thread_id, "supportive", "allow", now_utc(), None))
    return ids


def test_the_thread_view_lists_replies_riskiest_first_under_the_disclosure(store):
    ids = pile_on(store)
    store.enqueue(reply("t1", 9, 0.99, parent="a nested reply's parent"))

    view = store.thread_view("t1")

    assert [r["external_id"] for r in view["replies"]] == ["t1-r9", "t1-r1", "t1-r2", "t1-r4", "t1-r3", "t1-r5", "t1-r6"]
    assert view["root"] is None and view["root_text"] == DISCLOSURE and view["root_scores"] == SCORES
    assert view["item"]["kind"] == "thread" and view["thread"]["status"] == "under_attack"
    assert (view["queued"], view["replies_total"], view["replies_counted"]) == (7, 8, 7)
    assert ids["t1-r1"] in {r["id"] for r in view["replies"]}


def test_the_root_post_itself_is_the_disclosure_when_it_was_queued(store):
    root = ReviewCandidate(id="t2", text="the disclosure itself", parent_text=None, label="disclosure", scores=SCORES,
                           action="review", model_version="m", classified_at=now_utc(), thread_id="t2")  # fmt: skip
    store.enqueue(root)
    store.enqueue(reply("t2", 1, 0.8))

    view = store.thread_view("t2", limit=10)

    assert view["root"]["external_id"] == "t2" and view["root_text"] == "the disclosure itself"
    assert [r["external_id"] for r in view["replies"]] == ["t2-r1"]


def test_the_view_of_a_long_thread_is_cut_at_the_limit_but_counts_every_reply(store):
    for n in range(7):
        store.enqueue(reply("t3", n, 0.1 * n))

    view = store.thread_view("t3", limit=3)

    assert [r["external_id"] for r in view["replies"]] == ["t3-r6", "t3-r5", "t3-r4"]
    assert view["queued"] == 7


def test_an_unknown_thread_is_not_found(store):
    with pytest.raises(ReviewError, match="no thread 'nope'") as caught:
        store.thread_view("nope")
    assert caught.value.status == 404


def test_a_thread_item_takes_resolved_or_escalate_never_a_label(store):
    pile_on(store)
    thread_item = store.thread_view("t1")["item"]["id"]

    with pytest.raises(ReviewError, match="a thread item's decision must be one of resolved, escalate; got 'harassing'"):
        store.decide(thread_item, "alice", "harassing")
    decided = store.decide(thread_item, "alice", "resolved", "thread locked")

    assert (decided["status"], decided["decided_label"], decided["note"]) == ("decided", "resolved", "thread locked")


def test_a_post_item_refuses_the_thread_decision(store):
    item_id = store.enqueue(reply("t4", 1, 0.7))

    with pytest.raises(ReviewError, match="a post item's decision must be one of disclosure"):
        store.decide(item_id, "alice", "resolved")
    assert store.item(item_id)["status"] == "pending"


def test_confirm_all_hidden_decides_every_open_hidden_reply_harassing_with_one_audit_row_each(store):
    ids = pile_on(store)
    store.claim(ids["t1-r2"], "bob")  # a fresh claim by another reviewer is skipped, not taken over
    audit_before = len(store.audit(limit=1000))

    result = bulk_action(store, "t1", "alice", "confirm_hidden")

    assert sorted(result.decided) == sorted([ids["t1-r1"], ids["t1-r4"]]) and result.skipped == [ids["t1-r2"]]
    new_rows = store.audit(limit=1000)[: len(store.audit(limit=1000)) - audit_before]
    assert sorted(row["item_id"] for row in new_rows) == sorted(result.decided)
    assert {(row["event"], row["after"]["decided_label"], row["after"]["note"]) for row in new_rows} == {
        ("decide", "harassing", "thread bulk action: confirm all hidden")
    }
    assert store.item(ids["t1-r3"])["status"] == "pending"


def test_hide_all_above_a_score_decides_only_replies_at_or_above_it(store):
    ids = pile_on(store)

    result = bulk_action(store, "t1", "alice", "hide_above", min_score=0.62)

    assert sorted(result.decided) == sorted(ids[f"t1-r{n}"] for n in (1, 2, 3, 4))
    assert store.item(ids["t1-r5"])["status"] == "pending"
    assert store.audit(ids["t1-r3"])[0]["after"]["note"] == "thread bulk action: hide all at or above 0.62"


def test_hide_above_needs_a_score_between_0_and_1(store):
    pile_on(store)

    for bad in (None, -0.1, 1.5):
        with pytest.raises(ReviewError, match="hide_above needs min_score between 0 and 1"):
            bulk_action(store, "t1", "alice", "hide_above", min_score=bad)


def test_restore_undoes_the_reviewers_decisions_in_the_thread_and_only_theirs(store):
    ids = pile_on(store)
    bulk_action(store, "t1", "alice", "hide_above", min_score=0.9)
    store.decide(ids["t1-r4"], "bob", "harassing")

    result = bulk_action(store, "t1", "alice", "restore")

    assert sorted(result.decided) == sorted([ids["t1-r1"], ids["t1-r2"]]) and result.skipped == []
    assert [store.item(ids[f"t1-r{n}"])["status"] for n in (1, 2, 4)] == ["pending", "pending", "decided"]
    assert [row["event"] for row in store.audit(ids["t1-r1"])] == ["undo", "decide"]


def test_restore_of_selected_replies_skips_those_not_decided_by_the_reviewer(store):
    ids = pile_on(store)
    bulk_action(store, "t1", "alice", "hide_above", min_score=0.6)

    result = bulk_action(store, "t1", "alice", "restore", item_ids=[ids["t1-r1"], ids["t1-r5"]])

    assert result.decided == [ids["t1-r1"]] and result.skipped == [ids["t1-r5"]]
    assert store.item(ids["t1-r2"])["status"] == "decided"


def test_bulk_actions_refuse_items_of_another_thread_and_unknown_actions(store):
    pile_on(store)
    other = store.enqueue(reply("t5", 1, 0.9))

    with pytest.raises(ReviewError, match=f"item {other} is not a reply in this thread"):
        bulk_action(store, "t1", "alice", "restore", item_ids=[other])
    with pytest.raises(ReviewError, match="action must be one of confirm_hidden, hide_above, restore"):
        bulk_action(store, "t1", "alice", "delete_all")


def test_resolving_records_thread_locked_and_support_sent_in_the_note(store):
    pile_on(store)
    thread_item = store.thread_view("t1")["item"]["id"]

    decided = resolve_thread(store, thread_item, "alice", "resolved", locked=True, support_sent=True, note="calm now")

    assert decided["note"] == "thread locked; support sent · calm now"
    assert store.audit(thread_item)[0]["after"]["decided_label"] == "resolved"


def test_resolve_refuses_a_post_item(store):
    ids = pile_on(store)

    with pytest.raises(ReviewError, match=f"item {ids['t1-r1']} is not a thread item"):
        resolve_thread(store, ids["t1-r1"], "alice", "resolved", locked=True)
