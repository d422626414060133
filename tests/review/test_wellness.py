"""Reviewer wellness storage (review/wellness.py) on a real SQLite file and a real PostgreSQL server: preferences,
daily exposure counts, the audited reveal, the run of harassing items behind the break prompt, and the CLI line."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from review.store import ReviewError, ReviewStore
from review.wellness import PAUSE_ENDS_A_RUN, Wellness, status_lines
from review.models import utc_now
from tests.review.helpers import DISCLOSURE_PARENT, candidate


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> ReviewStore:
    if request.param == "postgresql":
        return ReviewStore(request.getfixturevalue("postgres_url"))
    return ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")


@pytest.fixture
def wellness(store) -> Wellness:
    return Wellness(store.engine, blur_default=True, break_after=3)


def items(store: ReviewStore, harassing: list[bool]) -> list[dict]:
    """Queue items whose model label is harassing (P = 0.9) or neutral (P = 0.1), in order."""
    return [store.item(store.enqueue(candidate(f"w{n}", 0.9 if h else 0.1))) for n, h in enumerate(harassing)]


def test_preferences_default_to_the_setting_and_are_kept_per_reviewer(store):
    wellness = Wellness(store.engine, blur_default=False)

    wellness.set_preferences("alice", blur=True, greyscale=True)

    assert (wellness.preferences("alice").blur, wellness.preferences("alice").greyscale) == (True, True)
    assert (wellness.preferences("bob").blur, wellness.preferences("bob").greyscale) == (False, False)
    wellness.set_preferences("alice", blur=False, greyscale=True)
    assert wellness.preferences("alice").blur is False


def test_items_seen_and_revealed_are_counted_once_per_item_and_day(store, wellness):
    harassing, neutral = items(store, [True, False])

    wellness.saw("alice", [harassing, neutral], "page", blur=True)
    wellness.saw("alice", [harassing], "thread", blur=True)
    wellness.reveal("alice", harassing, "key")
    wellness.reveal("alice", harassing, "click")

    today = wellness.exposure("alice")
    assert (today.seen, today.revealed) == (2, 1)
    assert wellness.exposure("bob").seen == 0
    assert wellness.exposure("alice", now=utc_now() + timedelta(days=1)).seen == 0
    assert [(row["event"], row["via"]) for row in wellness.audit("alice")[:2]] == [("reveal", "click"), ("reveal", "key")]


def test_a_revealed_item_stays_revealed_for_that_reviewer_today(store, wellness):
    [harassing] = items(store, [True])

    before = wellness.saw("alice", [harassing], "page", blur=True)
    wellness.reveal("alice", harassing, "click")

    assert before == set()
    assert wellness.saw("alice", [harassing], "page", blur=True) == {harassing["id"]}
    assert wellness.saw("bob", [harassing], "page", blur=True) == set()


def test_with_blur_off_every_harassing_item_shown_counts_as_revealed_once(store, wellness):
    harassing, neutral = items(store, [True, False])

    shown = wellness.saw("alice", [harassing, neutral], "thread", blur=False)
    wellness.saw("alice", [harassing], "page", blur=False)

    assert shown == {harassing["id"]}
    reveals = [row for row in wellness.audit("alice") if row["event"] == "reveal"]
    assert [(row["item_id"], row["via"]) for row in reveals] == [(harassing["id"], "unblurred")]
    assert wellness.exposure("alice").revealed == 1


def test_a_harassing_parent_counts_as_blurred_text_too(store, wellness):
    item_id = store.enqueue(candidate("wp", 0.1), parent_scores={"disclosure": 0.1, "supportive": 0.1,
                                                                 "harassing": 0.7, "neutral": 0.1})  # fmt: skip
    item = store.item(item_id)

    wellness.reveal("alice", item, "key")

    assert wellness.exposure("alice").revealed == 1


def test_revealing_an_item_with_nothing_blurred_is_a_conflict(store, wellness):
    item = store.item(store.enqueue(candidate("wn", 0.1), parent_scores=DISCLOSURE_PARENT))

    with pytest.raises(ReviewError, match=f"item {item['id']} has no blurred text") as caught:
        wellness.reveal("alice", item, "click")
    assert caught.value.status == 409
    with pytest.raises(ReviewError, match="a reveal is recorded via click or key or unblurred; got 'mouse'"):
        wellness.reveal("alice", items(store, [True])[0], "mouse")


def test_the_reviewers_decision_decides_whether_text_is_harassing(store, wellness):
    [model_harassing] = items(store, [True])
    store.decide(model_harassing["id"], "bob", "supportive")

    with pytest.raises(ReviewError, match="has no blurred text"):
        wellness.reveal("alice", store.item(model_harassing["id"]), "click")


def test_harassing_items_in_a_row_reach_the_break_prompt(store, wellness):
    h1, h2, h3 = items(store, [True, True, True])

    wellness.saw("alice", [h1], "page", blur=True)
    wellness.saw("alice", [h2], "page", blur=True)
    wellness.reveal("alice", h2, "key")  # the same item again: still two
    two = wellness.exposure("alice")
    wellness.saw("alice", [h3], "page", blur=True)
    three = wellness.exposure("alice")

    assert (two.in_a_row, two.break_due) == (2, False)
    assert (three.in_a_row, three.break_due) == (3, True)


def test_a_non_harassing_item_a_break_or_a_pause_ends_the_run(store, wellness):
    h1, h2, neutral, h3 = items(store, [True, True, False, True])
    wellness.saw("alice", [h1, h2], "page", blur=True)
    wellness.saw("alice", [neutral], "page", blur=True)
    wellness.saw("alice", [h3], "page", blur=True)
    after_neutral = wellness.exposure("alice").in_a_row
    wellness.take_break("alice", "dismissed")
    after_break = wellness.exposure("alice").in_a_row
    wellness.saw("alice", [h1], "page", blur=True)
    after_pause = wellness.exposure("alice", now=utc_now() + PAUSE_ENDS_A_RUN).in_a_row

    assert (after_neutral, after_break, after_pause) == (1, 0, 0)


def test_replies_listed_in_a_thread_view_neither_add_to_nor_end_the_run(store, wellness):
    h1, neutral, h2 = items(store, [True, False, True])
    wellness.saw("alice", [h1], "page", blur=True)

    wellness.saw("alice", [neutral, h2], "thread", blur=True)
    listed = wellness.exposure("alice").in_a_row
    wellness.reveal("alice", h2, "key")

    assert (listed, wellness.exposure("alice").in_a_row) == (1, 2)


def test_no_break_prompt_when_break_after_is_zero(store):
    wellness = Wellness(store.engine, break_after=0)
    wellness.saw("alice", items(store, [True, True, True, True]), "page", blur=True)

    exposure = wellness.exposure("alice")
    assert (exposure.in_a_row, exposure.break_due) == (4, False)


def test_the_exposure_log_is_append_only(store, wellness):
    wellness.take_break("alice", "taken")

    for statement in ("UPDATE review_exposure SET reviewer = 'mallory'", "DELETE FROM review_exposure"):
        with pytest.raises(DBAPIError, match="append-only"):
            with store.engine.begin() as connection:
                connection.execute(text(statement))
    assert wellness.audit("alice")[0]["via"] == "taken"


def test_status_lines_give_each_reviewers_day(store, wellness):
    harassing, neutral = items(store, [True, False])
    assert status_lines(wellness) == [f"exposure {utc_now().date().isoformat()} (UTC): no reviewer has seen an item"]

    wellness.saw("alice", [harassing, neutral], "page", blur=True)
    wellness.reveal("alice", harassing, "click")
    wellness.take_break("alice", "taken")
    wellness.saw("bob", [neutral], "page", blur=True)

    assert status_lines(wellness)[1:] == [
        "  alice: 2 items seen, 1 harassing revealed, 1 breaks taken",
        "  bob: 1 items seen, 0 harassing revealed, 0 breaks taken",
    ]


def test_withyou_review_status_prints_the_exposure(tmp_path, monkeypatch):
    from orchestration.cli import app

    db = tmp_path / "review.db"
    store = ReviewStore(f"sqlite:///{db}")
    Wellness(store.engine).saw("carol", items(store, [True]), "page", blur=True)

    result = CliRunner().invoke(app, ["review", "status", "--db", str(db)])

    assert result.exit_code == 0, result.output
    assert "  carol: 1 items seen, 0 harassing revealed, 0 breaks taken" in result.output
