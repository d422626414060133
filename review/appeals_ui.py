"""The appeals pages of the reviewer UI: the queue of open appeals, and one appeal with its decision form.

Same rules as review/ui.py, whose page frame and shortcuts these pages use: server-rendered, every value through
Jinja2 autoescaping (the statement and the post are attacker-controlled text), no inline script (the shortcuts
are review/static/review.js: a button's `data-key`, `j` follows rel="next"), forms carrying the CSRF token.

An appeal is decided by choosing the label that stands: the appealed label upholds the decision, any other label
of the set overturns it with that label (one button each, with the label's shortcut key). The reviewer who made
the decision under appeal sees the appeal without the form; the store refuses them anyway (403).

Wellness (review/wellness.py) holds here as on the item page: the post under appeal was decided harassing, so its
text is blurred until the reviewer reveals it (`v` or the button; the reveal is audited), the page counts as
seeing it, and it carries the exposure header and the break prompt. The author's statement is not blurred.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from review.api import ERRORS, MAX_NOTE_CHARS, check_csrf, reviewer_of, store_of
from review.appeals import OVERTURNED, UPHELD
from review.models import LABEL_CHARS, OPEN_STATUSES
from review.sla import duration
from review.store import ESCALATE
from review.ui import blur_state, error_page, redirect, reviewer_page, shortcuts, wellness_of

VIEWS = {"open": OPEN_STATUSES, "decided": ("decided",)}

router = APIRouter(responses={status: {"description": f"{why} (an HTML page)"} for status, why in ERRORS.items()})


def decision_keys(request: Request) -> dict[str, str | None]:
    """{label: shortcut key}: the item page's keys (review/ui.py), without escalate (an appeal has no such outcome)."""
    return {label: key for label, key in shortcuts(request.app.state.labels).items() if label != ESCALATE}


def waiting(appeal: dict[str, Any]) -> str | None:
    return duration(appeal["age_seconds"]) if appeal["age_seconds"] is not None else None


@router.get("/appeals", response_class=HTMLResponse, name="appeals_page")
def appeals_page(request: Request, view: str = "open", offset: int = 0) -> HTMLResponse:
    if view not in VIEWS:
        return error_page(request, 400, f"view must be one of {', '.join(VIEWS)}")
    store = store_of(request)
    page_size = request.app.state.settings.page_size
    offset = max(0, offset)
    found = store.appeals(VIEWS[view], limit=page_size, offset=offset)  # ReviewError (400) past MAX_OFFSET
    return reviewer_page(
        request, "appeals.html", f"/appeals?view={view}", appeals=found, waiting={a["id"]: waiting(a) for a in found}, view=view,
        views=list(VIEWS), offset=offset, page_size=page_size, first=store.next_appeal_for(reviewer_of(request)),
        rates=store.appeal_rates(), counts=store.counts(), shortcuts=decision_keys(request),
    )  # fmt: skip


@router.get("/appeals/{appeal_id}", response_class=HTMLResponse, name="appeal_page")
def appeal_page(request: Request, appeal_id: int) -> HTMLResponse:
    store = store_of(request)
    appeal = store.appeal(appeal_id)
    reviewer = reviewer_of(request)
    following = store.next_appeal_for(reviewer)
    preferences = wellness_of(request).preferences(reviewer)
    shown = wellness_of(request).saw(reviewer, [appeal["original"]], "page", blur=preferences.blur)
    return reviewer_page(
        request, "appeal.html", f"/appeals/{appeal_id}", preferences=preferences, appeal=appeal,
        original=appeal["original"], blurred=blur_state(appeal["original"], shown), choices=decision_keys(request),
        max_note=MAX_NOTE_CHARS, own=appeal["original"]["decided_by"] == reviewer,
        following=following if following != appeal_id else None, waited=waiting(appeal), counts=store.counts(),
    )  # fmt: skip


@router.post("/appeals/{appeal_id}/reveal", name="reveal_appeal_form")
def reveal_appeal_form(
    request: Request,
    appeal_id: int,
    csrf_token: Annotated[str, Form()] = "",
    via: Annotated[str, Form(max_length=16)] = "click",
) -> Response:
    """Reveal the blurred post under appeal (audited as a reveal of that post, as on its item page); JSON for
    review.js, else the appeal page again."""
    check_csrf(request, csrf_token)
    reviewer = reviewer_of(request)
    wellness = wellness_of(request)
    wellness.reveal(reviewer, store_of(request).appeal(appeal_id)["original"], via)
    if "application/json" in request.headers.get("accept", ""):
        exposure = wellness.exposure(reviewer)
        return JSONResponse({"revealed": appeal_id, "revealed_today": exposure.revealed, "break_due": exposure.break_due})
    return redirect(request, f"/appeals/{appeal_id}")


@router.post("/appeals/{appeal_id}/decide", name="decide_appeal_form")
def decide_appeal_form(
    request: Request,
    appeal_id: int,
    decision: Annotated[str, Form(max_length=LABEL_CHARS)],
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
) -> RedirectResponse:
    """`decision` is the label that stands: the appealed one upholds, another overturns with it."""
    check_csrf(request, csrf_token)
    store = store_of(request)
    reviewer = reviewer_of(request)
    upheld = decision == store.appeal(appeal_id)["appealed_label"]
    store.decide_appeal(appeal_id, reviewer, UPHELD if upheld else OVERTURNED, None if upheld else decision,
                        note.strip() or None)  # fmt: skip
    following = store.next_appeal_for(reviewer)
    return redirect(request, f"/appeals/{following}" if following else "/appeals")
