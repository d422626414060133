"""Appeals: the author of a hidden post asks for its decision to be looked at again (issue 21 item 6).

`POST /review/api/appeals` names the post by its /classify id (`external_id`) and carries the author's statement.
The post must have a reviewer's decision that keeps it hidden (a label in `WITHYOU_REVIEW_APPEAL_LABELS`, default
harassing); a post is appealed once. The appeal is a queue row of `kind` "appeal" (review/models.py) in its own
queue, oldest first, with its own service level (review/sla.py).

A reviewer other than the one who made the decision decides the appeal (the original decider gets 403, also when
claiming it): "upheld" keeps the label, "overturned" replaces it with another label of the set. The post's row
keeps its decision and audit trail; `withyou review export` writes an overturned post with the appeal's label,
marked `appeal_correction` (review/export.py), and training counts such rows more (training/config.py
tag_weights). The decision under appeal cannot be undone while its appeal exists: the appeal decides whether it
stands.

The statement is user text: stored (reviewers read it), rendered escaped, blanked by retention once the appeal is
decided (`withyou review purge`, as post text), never logged and never quoted in an error message.
The appeal rate (appeals / posts decided with the label) and the overturn rate (overturned / appeals decided) per
label are measured false-positive signals: `rates`, shown by `withyou review status`, /review/api/status, /metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from review.errors import Conflict, Forbidden, NotFound, ReviewError
from review.models import APPEAL_OUTCOMES, OPEN_STATUSES, ReviewItem, item_json, iso

MAX_STATEMENT_CHARS = 2000
UPHELD, OVERTURNED = APPEAL_OUTCOMES


def check_statement(statement: str) -> str:
    """The statement as given, when it is not blank and not too long (the message never quotes it)."""
    if not statement.strip():
        raise ReviewError("statement is empty")
    if len(statement) > MAX_STATEMENT_CHARS:
        raise ReviewError(f"statement is {len(statement)} characters; at most {MAX_STATEMENT_CHARS}")
    return statement


def open_appeal(
    session: Session, external_id: str, statement: str, appeal_labels: tuple[str, ...], now: datetime
) -> ReviewItem:
    """Add the appeal of the latest decided post with `external_id`, inside the caller's transaction."""
    shown = repr(external_id[:80])
    posts = session.scalars(
        select(ReviewItem)
        .where(ReviewItem.external_id == external_id, ReviewItem.kind == "post")
        .order_by(ReviewItem.id.desc())
    ).all()
    if not posts:
        raise NotFound(f"no reviewed post has the id {shown}")
    post = next((p for p in posts if p.status == "decided"), None)
    if post is None:
        raise Conflict(f"post {shown} has no reviewer decision yet (it is {posts[0].status}); appeal once it is decided")
    if post.purged:
        raise Conflict(f"post {shown} (item {post.id}) was purged by retention; its decision is final")
    if post.decided_label not in appeal_labels:
        raise Conflict(f"post {shown} (item {post.id}) was decided {post.decided_label}, which does not hide it; only "
                       f"decisions {', '.join(appeal_labels)} can be appealed")  # fmt: skip
    earlier = session.scalar(select(ReviewItem).where(ReviewItem.appeal_of == post.id))
    if earlier is not None:
        raise Conflict(f"post {shown} (item {post.id}) was already appealed: appeal {earlier.id} is {earlier.status}")
    appeal = ReviewItem(
        kind="appeal",
        appeal_of=post.id,
        external_id=post.external_id,
        text=statement,
        parent_text=None,
        scores=dict(post.scores),
        harassing_score=post.harassing_score,
        label=post.decided_label,
        action=post.action,
        model_version=post.model_version,
        classified_at=post.classified_at,
        enqueued_at=now,
        status="pending",
    )
    already = Conflict(f"post {shown} (item {post.id}) was already appealed")  # the rows expire if the flush fails
    session.add(appeal)
    try:
        session.flush()
    except IntegrityError:  # another appeal of this post was added meanwhile (unique appeal_of); never log the row
        raise already from None
    return appeal


def original_of(session: Session, appeal: ReviewItem) -> ReviewItem:
    return session.get(ReviewItem, appeal.appeal_of)


def check_decider(original: ReviewItem, appeal: ReviewItem, reviewer: str) -> None:
    """The reviewer whose decision is appealed may not claim or decide the appeal."""
    if original.decided_by == reviewer:
        raise Forbidden(f"you ({reviewer}) made the decision under appeal (item {original.id}); another reviewer must "
                        f"decide appeal {appeal.id}")  # fmt: skip


def final_label(appealed_label: str, outcome: str, label: str | None, labels: tuple[str, ...]) -> str:
    """The label that stands: the appealed one when upheld, the given other label of the set when overturned."""
    if outcome not in APPEAL_OUTCOMES:
        raise ReviewError(f"outcome must be one of {', '.join(APPEAL_OUTCOMES)}; got {outcome[:40]!r}")
    if outcome == UPHELD:
        if label not in (None, appealed_label):
            raise ReviewError(f"an upheld appeal keeps the label {appealed_label}; got label {label[:40]!r}")
        return appealed_label
    if label is None:
        raise ReviewError("an overturned appeal needs the corrected label")
    if label not in labels or label == appealed_label:
        others = [name for name in labels if name != appealed_label]
        raise ReviewError(f"the corrected label must be one of {', '.join(others)}; got {label[:40]!r}")
    return label


def appeal_json(appeal: ReviewItem, original: ReviewItem, service: dict[str, Any]) -> dict[str, Any]:
    """What the API and the appeals pages show of an appeal: the statement, the outcome, the decision appealed."""
    return {
        "id": appeal.id,
        "external_id": appeal.external_id,
        "status": appeal.status,
        "statement": None if appeal.purged else appeal.text,
        "appealed_label": appeal.label,
        "opened_at": iso(appeal.enqueued_at),
        "claimed_by": appeal.claimed_by,
        "outcome": appeal.appeal_outcome,
        "label": appeal.decided_label,
        "decided_by": appeal.decided_by,
        "decided_at": iso(appeal.decided_at),
        "note": appeal.note,
        "purged": appeal.purged,
        **service,
        "original": item_json(original),
    }


def rates(session: Session, appeal_labels: tuple[str, ...]) -> dict[str, Any]:
    """Appeal counts, and per appealable label: posts decided with it, appeals, outcomes, the two rates."""
    decided = dict(
        session.execute(
            select(ReviewItem.decided_label, func.count())
            .where(ReviewItem.kind == "post", ReviewItem.status == "decided", ReviewItem.decided_label.in_(appeal_labels))
            .group_by(ReviewItem.decided_label)
        ).all()
    )
    rows = session.execute(
        select(ReviewItem.label, ReviewItem.status, ReviewItem.appeal_outcome, func.count())
        .where(ReviewItem.kind == "appeal")
        .group_by(ReviewItem.label, ReviewItem.status, ReviewItem.appeal_outcome)
    ).all()
    by_label = {}
    for label in appeal_labels:
        mine = [(status, outcome, int(n)) for name, status, outcome, n in rows if name == label]
        appealed = sum(n for *_, n in mine)
        appeals_decided = sum(n for status, _, n in mine if status == "decided")
        overturned = sum(n for status, outcome, n in mine if status == "decided" and outcome == OVERTURNED)
        posts = int(decided.get(label, 0))
        by_label[label] = {
            "decided": posts,
            "appealed": appealed,
            "appeals_decided": appeals_decided,
            "overturned": overturned,
            "appeal_rate": appealed / posts if posts else None,
            "overturn_rate": overturned / appeals_decided if appeals_decided else None,
        }
    return {
        "open": sum(int(n) for _, status, _, n in rows if status in OPEN_STATUSES),
        "decided": sum(int(n) for _, status, _, n in rows if status == "decided"),
        "by_label": by_label,
    }


def overturned(session: Session) -> dict[int, tuple[int, str]]:
    """{post id: (appeal id, the label that replaced its decision)} for every overturned appeal."""
    rows = session.execute(
        select(ReviewItem.appeal_of, ReviewItem.id, ReviewItem.decided_label).where(
            ReviewItem.kind == "appeal", ReviewItem.status == "decided", ReviewItem.appeal_outcome == OVERTURNED
        )
    ).all()
    return {post_id: (appeal_id, label) for post_id, appeal_id, label in rows}
