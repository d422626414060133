"""The reviewer JSON API under /review/api (see review/README.md for the endpoint table).

Every route runs after ReviewerAuth, so `request.state.reviewer` is always a known reviewer. Changing routes check
the CSRF token when the request was authenticated by HTTP Basic (review/security.py says why).
Routes are plain `def`: FastAPI runs them in its thread pool, where the synchronous SQLAlchemy session lives.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from review.appeals import MAX_STATEMENT_CHARS
from review.models import APPEAL_OUTCOMES, EXTERNAL_ID_CHARS, LABEL_CHARS, OPEN_STATUSES, STATUSES
from review.store import MAX_OFFSET, ReviewError, ReviewStore

MAX_NOTE_CHARS = 2000
ERRORS: dict[int | str, str] = {  # what any reviewer route may answer (review/app.py; README "Errors")
    400: "bad body, query or path parameter: `error` names the field and the rule it broke",
    401: "no or wrong reviewer credentials",
    403: "a change authenticated by HTTP Basic without the CSRF token; the original decider claiming or deciding "
    "the appeal of their own decision",
    404: "no such item",
    405: "a method the route does not take; `Allow` lists the ones it does",
    409: "state conflict: claimed by another reviewer, already decided, not yours to undo, not appealable",
    503: "the review store is unavailable",
    "default": "500: an internal error, without detail",
}


class ErrorBody(BaseModel):
    error: str = Field(description="what is wrong, in one line; never the post text")


# Documenting 400 (and a default) also keeps FastAPI from adding the 422 this app never answers.
router = APIRouter(
    prefix="/api", responses={status: {"model": ErrorBody, "description": why} for status, why in ERRORS.items()}
)


class DecideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: str = Field(
        max_length=LABEL_CHARS, description="the correct label, one of the bundle's (harassing confirms), or escalate"
    )
    note: str | None = Field(None, max_length=MAX_NOTE_CHARS, description="optional; never quote the post")


class UndoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: int | None = Field(None, description="the item whose decision to undo; default your latest decision")


class AppealBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=EXTERNAL_ID_CHARS, description="the hidden post's /classify id")
    statement: str = Field(
        min_length=1, max_length=MAX_STATEMENT_CHARS,
        description="the author's statement: stored for reviewers, never logged, blanked by retention",
    )  # fmt: skip


class AppealDecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal[APPEAL_OUTCOMES] = Field(description="upheld: the decision stands; overturned: `label` replaces it")
    label: str | None = Field(None, max_length=LABEL_CHARS, description="the corrected label (overturned only)")
    note: str | None = Field(None, max_length=MAX_NOTE_CHARS, description="optional; never quote the post")


class CsrfRejected(ReviewError):
    status = 403


def store_of(request: Request) -> ReviewStore:
    return request.app.state.store


def reviewer_of(request: Request) -> str:
    return request.state.reviewer.name


def check_csrf(request: Request, token: str | None) -> None:
    """Basic-auth requests (browsers) must prove they come from our own pages."""
    if request.state.auth_method != "basic":
        return
    if not request.app.state.reviewers.csrf_ok(request.state.reviewer, token):
        raise CsrfRejected("missing or wrong CSRF token (send X-CSRF-Token, from GET /review/api/me)")


def parse_statuses(status: str) -> tuple[str, ...]:
    wanted = tuple(part.strip() for part in status.split(",") if part.strip())
    unknown = [s for s in wanted if s not in STATUSES]
    if not wanted or unknown:
        raise ReviewError(f"status must be a comma-separated list of {', '.join(STATUSES)}; got {status!r}")
    return wanted


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    """Who you are signed in as, and your CSRF token (needed only with HTTP Basic)."""
    reviewer = request.state.reviewer
    return {"reviewer": reviewer.name, "csrf_token": request.app.state.reviewers.csrf_token(reviewer)}


@router.get("/labels")
def labels(request: Request) -> dict[str, Any]:
    """The labels a decision may take (the bundle's, in its order), plus escalate."""
    return {"labels": list(request.app.state.labels), "decisions": list(store_of(request).decisions)}


@router.get("/queue")
def queue(
    request: Request,
    status: str = ",".join(OPEN_STATUSES),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    external_id: Annotated[str | None, Query(max_length=256)] = None,
) -> dict[str, Any]:
    """Items in priority order (replies to disclosures, then P(harassing), then age), with the counts.

    `status` is a comma-separated subset of pending, claimed, decided, escalated (default: the open ones);
    `external_id` finds the items of one /classify id.
    """
    store = store_of(request)
    items = store.queue(parse_statuses(status), limit=limit, offset=offset, external_id=external_id)
    return {"counts": store.counts(), "items": items}


@router.get("/counts")
def counts(request: Request) -> dict[str, int]:
    return store_of(request).counts()


@router.get("/items/{item_id}")
def item(request: Request, item_id: int) -> dict[str, Any]:
    return store_of(request).item(item_id)


@router.get("/items/{item_id}/audit")
def item_audit(request: Request, item_id: int) -> list[dict[str, Any]]:
    store = store_of(request)
    store.item(item_id)  # 404 for an unknown item
    return store.audit(item_id)


@router.get("/audit")
def audit(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
    return store_of(request).audit(limit=limit)


@router.post("/items/{item_id}/claim")
def claim(request: Request, item_id: int) -> dict[str, Any]:
    check_csrf(request, request.headers.get("x-csrf-token"))
    return store_of(request).claim(item_id, reviewer_of(request))


@router.post("/items/{item_id}/decide")
def decide(request: Request, item_id: int, body: DecideBody) -> dict[str, Any]:
    check_csrf(request, request.headers.get("x-csrf-token"))
    return store_of(request).decide(item_id, reviewer_of(request), body.decision, body.note)


@router.post("/items/{item_id}/undo")
def undo_item(request: Request, item_id: int) -> dict[str, Any]:
    check_csrf(request, request.headers.get("x-csrf-token"))
    return store_of(request).undo(reviewer_of(request), item_id)


@router.post("/undo")
def undo_last(request: Request, body: UndoBody | None = None) -> dict[str, Any]:
    """Undo your latest decision still in force (or `item_id`'s)."""
    check_csrf(request, request.headers.get("x-csrf-token"))
    return store_of(request).undo(reviewer_of(request), body.item_id if body else None)


@router.get("/status")
def status_report(request: Request) -> dict[str, Any]:
    """Counts, service levels per priority class (breaches, oldest open item), appeal and overturn rates per label."""
    return store_of(request).status_report()


@router.post("/appeals", status_code=201)
def open_appeal(request: Request, body: AppealBody) -> dict[str, Any]:
    """Open the appeal of a hidden post (a reviewer's decision in WITHYOU_REVIEW_APPEAL_LABELS) for its author."""
    check_csrf(request, request.headers.get("x-csrf-token"))
    return store_of(request).open_appeal(body.external_id, body.statement)


@router.get("/appeals")
def list_appeals(
    request: Request,
    status: str = ",".join(OPEN_STATUSES),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Appeals (open ones oldest first), with the appeal counts and rates."""
    store = store_of(request)
    found = store.appeals(parse_statuses(status), limit=limit, offset=offset)
    return {"appeals": found, "rates": store.appeal_rates()}


@router.get("/appeals/{appeal_id}")
def appeal(request: Request, appeal_id: int) -> dict[str, Any]:
    return store_of(request).appeal(appeal_id)


@router.post("/appeals/{appeal_id}/decide")
def decide_appeal(request: Request, appeal_id: int, body: AppealDecisionBody) -> dict[str, Any]:
    """Uphold or overturn; 403 for the reviewer who made the decision under appeal."""
    check_csrf(request, request.headers.get("x-csrf-token"))
    return store_of(request).decide_appeal(appeal_id, reviewer_of(request), body.outcome, body.label, body.note)
