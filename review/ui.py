"""The reviewer web UI: server-rendered pages (Jinja2, autoescaped) and the one static script behind the shortcuts.

Posts are attacker-controlled. Every value reaches the page through Jinja2 autoescaping (no `|safe` anywhere),
the page runs no inline script (the CSP forbids it: review/security.py), and decisions are form POSTs
carrying the reviewer's CSRF token. After a decision the reviewer lands on the next item in priority order.
The decision buttons are the app's label set (the bundle's labels.json, review/app.py) plus escalate;
each gets the first letter of its name not yet taken as its shortcut (h s d n for the four default labels).

Threads (issue 21 item 3): a thread item's page is the thread view (also at /threads?id=…): the disclosure, then the
thread's queued replies riskiest first, each decidable in place; bulk actions and the thread's own resolution
(review/thread_actions.py). Wellness (item 4, review/wellness.py): text labelled harassing is blurred until revealed
(an audited POST), every page shows the reviewer's exposure today, and a run of harassing items brings a break
prompt. Pages record what the reviewer saw, so they are rendered per reviewer and never cached (no-store).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from review.api import ERRORS, MAX_NOTE_CHARS, check_csrf, reviewer_of, store_of
from review.models import EXTERNAL_ID_CHARS, LABEL_CHARS, OPEN_STATUSES
from review.store import ESCALATE, NotFound
from review.thread_actions import BULK_ACTIONS, bulk_action, resolve_thread
from review.wellness import Wellness, is_harassing, parent_is_harassing
from withyou.explain import segments, top_words

HERE = Path(__file__).parent
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
RESERVED_KEYS = frozenset("jkuvxo")  # next, previous, undo, reveal, select, open (static/review.js)
VIEWS = {"open": OPEN_STATUSES, "escalated": ("escalated",), "decided": ("decided",)}
THREAD_REPLIES_SHOWN = 500  # the riskiest replies a thread view lists; bulk actions reach every reply
HIDE_ABOVE_DEFAULT = 0.9  # the score the thread view's "hide all at or above" starts at

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True
)
router = APIRouter(responses={status: {"description": f"{why} (an HTML page)"} for status, why in ERRORS.items()})


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    reviewer = getattr(request.state, "reviewer", None)
    base = request.scope.get("root_path", "")
    context = {
        "base": base,
        "reviewer": reviewer.name if reviewer else None,
        "csrf_token": request.app.state.reviewers.csrf_token(reviewer) if reviewer else "",
        **context,
    }
    if "greyscale" not in context:  # the reviewer's preference (review/wellness.py) on every page but errors
        context["greyscale"] = bool(reviewer) and wellness_of(request).preferences(reviewer.name).greyscale
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status_code)


def wellness_of(request: Request) -> Wellness:
    return request.app.state.wellness


def reviewer_page(request: Request, name: str, here: str, **context: Any) -> HTMLResponse:
    """A page with the reviewer's wellness frame: greyscale, today's exposure, the break prompt when one is due."""
    wellness = wellness_of(request)
    reviewer = reviewer_of(request)
    preferences = context.pop("preferences", None) or wellness.preferences(reviewer)
    return render(
        request, name, here=here, preferences=preferences, greyscale=preferences.greyscale,
        exposure=wellness.exposure(reviewer), **context,
    )  # fmt: skip


def shortcuts(labels: tuple[str, ...]) -> dict[str, str | None]:
    """{decision: key}: escalate keeps `e`, each label the first letter of its name still free (or none)."""
    taken, keys = set(RESERVED_KEYS) | {ESCALATE[0]}, {}
    for label in labels:
        keys[label] = next((c for c in label if c.isalpha() and c not in taken), None)
        taken.add(keys[label])
    return {**keys, ESCALATE: ESCALATE[0]}


def score_rows(item: dict[str, Any], labels: tuple[str, ...]) -> list[tuple[str, float | None]]:
    """(label, score) in label-set order, then any label the item's model had that the set lacks; None = no score."""
    scores = item["scores"] or {}
    extra = [name for name in scores if name not in labels]
    return [(name, scores.get(name)) for name in (*labels, *extra)]


def error_page(request: Request, status: int, message: str, headers: dict | None = None) -> HTMLResponse:
    page = render(request, "error.html", status_code=status, status=status, message=message, greyscale=False)
    page.headers.update(headers or {})
    return page


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(f"{request.scope.get('root_path', '')}{path}", status_code=303)


def thread_path(thread_id: str, fragment: str = "", **query: Any) -> str:
    """The thread view's app-relative URL (thread ids are the platform's: any characters, so encoded)."""
    return f"/threads?{urlencode({'id': thread_id, **query})}" + (f"#{fragment}" if fragment else "")


@router.get("/", response_class=HTMLResponse, name="queue_page")
def queue_page(request: Request, view: str = "open", offset: int = 0) -> HTMLResponse:
    if view not in VIEWS:
        return error_page(request, 400, f"view must be one of {', '.join(VIEWS)}")
    store = store_of(request)
    page_size = request.app.state.settings.page_size
    offset = max(0, offset)
    items = store.queue(VIEWS[view], limit=page_size, offset=offset)  # ReviewError (400) past MAX_OFFSET
    why = {item["id"]: item_top_words(item) for item in items}
    preferences = wellness_of(request).preferences(reviewer_of(request))
    blurred = {item["id"] for item in items if preferences.blur and is_harassing(item)}  # excerpts: no reveal here
    return reviewer_page(
        request, "queue.html", f"/?{urlencode({'view': view, 'offset': offset})}", preferences=preferences,
        items=items, counts=store.counts(), view=view, views=list(VIEWS), offset=offset, page_size=page_size,
        first=store.next_for(reviewer_of(request)), shortcuts=shortcuts(request.app.state.labels), why=why,
        blurred=blurred,
    )  # fmt: skip


def item_top_words(item: dict[str, Any]) -> list[str]:
    """The words that pushed the model hardest towards P(harassing), when the item was explained."""
    explanation = item.get("explanation")
    if not explanation or not item.get("text"):
        return []
    return top_words(item["text"], explanation["text"]["harassing"])


def highlights(item: dict[str, Any]) -> dict[str, list[dict] | None]:
    """Reply and parent cut into escaped-by-the-template segments with the P(harassing) spans marked."""
    explanation = item.get("explanation")
    if not explanation or item.get("purged"):
        return {"reply": None, "parent": None}
    parent = explanation.get("parent")
    return {
        "reply": segments(item["text"], explanation["text"]["harassing"]),
        "parent": segments(item["parent_text"], parent["harassing"]) if parent and item.get("parent_text") else None,
    }


def blur_state(item: dict[str, Any], shown_unblurred: set[int]) -> dict[str, bool]:
    """Which of the item's texts are blurred now: harassing ones, unless revealed (or the reviewer's blur is off)."""
    hidden = item["id"] not in shown_unblurred
    return {"reply": hidden and is_harassing(item), "parent": hidden and parent_is_harassing(item)}


@router.get("/items/{item_id}", response_class=HTMLResponse, name="item_page")
def item_page(request: Request, item_id: int) -> HTMLResponse:
    store = store_of(request)
    item = store.item(item_id)
    if item["kind"] == "thread":
        return thread_page(request, item["thread_id"])
    if item["kind"] == "appeal":  # its own page (review/appeals_ui.py)
        return redirect(request, f"/appeals/{item_id}")
    reviewer = reviewer_of(request)
    order = store.open_ids()
    if item_id in order:
        position = order.index(item_id)
        previous = order[position - 1] if position > 0 else None
        following = order[position + 1] if position + 1 < len(order) else None
    else:
        previous, following = None, store.next_for(reviewer)
    labels = request.app.state.labels
    preferences = wellness_of(request).preferences(reviewer)
    shown = wellness_of(request).saw(reviewer, [item], "page", blur=preferences.blur)
    return reviewer_page(
        request, "item.html", f"/items/{item_id}", preferences=preferences, item=item,
        scores=score_rows(item, labels), shortcuts=shortcuts(labels), previous=previous, following=following,
        counts=store.counts(), max_note=MAX_NOTE_CHARS, audit=store.audit(item_id, limit=20),
        highlights=highlights(item), blurred=blur_state(item, shown),
        thread_link=thread_path(item["thread_id"]) if item["thread_id"] else None,
    )  # fmt: skip


@router.get("/threads", response_class=HTMLResponse, name="thread_page")
def thread_page(
    request: Request,
    thread_id: Annotated[str, Query(alias="id", min_length=1, max_length=EXTERNAL_ID_CHARS)],
    done: str | None = None,
    changed: Annotated[int, Query(ge=0)] = 0,
    skipped: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """The thread view: the disclosure, then the thread's queued replies riskiest first (`id` is the thread id)."""
    store = store_of(request)
    reviewer = reviewer_of(request)
    view = store.thread_view(thread_id, limit=THREAD_REPLIES_SHOWN)
    replies = view["replies"]
    labels = request.app.state.labels
    preferences = wellness_of(request).preferences(reviewer)
    listed = replies + ([view["item"]] if view["item"] else [])
    shown = wellness_of(request).saw(reviewer, listed, "thread", blur=preferences.blur)
    open_replies = [reply for reply in replies if reply["status"] in OPEN_STATUSES]
    return reviewer_page(
        request, "thread.html", thread_path(thread_id), preferences=preferences, view=view, replies=replies,
        scores={reply["id"]: score_rows(reply, labels) for reply in replies},
        highlights={reply["id"]: highlights(reply) for reply in replies},
        blurred={reply["id"]: blur_state(reply, shown) for reply in replies},
        shortcuts=shortcuts(labels), counts=store.counts(), max_note=MAX_NOTE_CHARS,
        hidden_open=sum(reply["action"] == "hide" for reply in open_replies), open_replies=len(open_replies),
        hide_above=HIDE_ABOVE_DEFAULT, done=BULK_ACTIONS.get(done or ""), changed=changed, skipped=skipped,
        following=store.next_for(reviewer),
    )  # fmt: skip


@router.post("/threads/bulk", name="thread_bulk_form")
def thread_bulk_form(
    request: Request,
    thread_id: Annotated[str, Form(min_length=1, max_length=EXTERNAL_ID_CHARS)],
    action: Annotated[str, Form(max_length=32)],
    csrf_token: Annotated[str, Form()] = "",
    min_score: Annotated[float | None, Form(ge=0.0, le=1.0)] = None,
    item_id: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies form defaults)
) -> RedirectResponse:
    """One bulk action on the thread's replies (review/thread_actions.py); back to the thread view with the tally."""
    check_csrf(request, csrf_token)
    result = bulk_action(store_of(request), thread_id, reviewer_of(request), action, min_score, item_id)
    tally = {"done": action, "changed": len(result.decided), "skipped": len(result.skipped)}
    return redirect(request, thread_path(thread_id, **tally))


@router.post("/items/{item_id}/resolve", name="resolve_form")
def resolve_form(
    request: Request,
    item_id: int,
    decision: Annotated[str, Form(max_length=LABEL_CHARS)],
    csrf_token: Annotated[str, Form()] = "",
    locked: Annotated[bool, Form()] = False,
    support_sent: Annotated[bool, Form()] = False,
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
) -> RedirectResponse:
    """Resolve (or escalate) a thread item with its "thread locked / support sent" note; then the next item."""
    check_csrf(request, csrf_token)
    store = store_of(request)
    resolve_thread(store, item_id, reviewer_of(request), decision, locked, support_sent, note)
    following = store.next_for(reviewer_of(request))
    return redirect(request, f"/items/{following}" if following else "/")


@router.post("/items/{item_id}/decide", name="decide_form")
def decide_form(
    request: Request,
    item_id: int,
    decision: Annotated[str, Form(max_length=LABEL_CHARS)],
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
    back: Annotated[str, Form(max_length=16)] = "",
) -> RedirectResponse:
    """Decide; then the next item in priority order, or (`back` = "thread") the reply's place in its thread view."""
    check_csrf(request, csrf_token)
    store = store_of(request)
    decided = store.decide(item_id, reviewer_of(request), decision, note.strip() or None)
    if back == "thread" and decided["thread_id"]:
        return redirect(request, thread_path(decided["thread_id"], fragment=f"reply-{item_id}"))
    following = store.next_for(reviewer_of(request))
    return redirect(request, f"/items/{following}" if following else "/")


@router.post("/items/{item_id}/reveal", name="reveal_form")
def reveal_form(
    request: Request,
    item_id: int,
    csrf_token: Annotated[str, Form()] = "",
    via: Annotated[str, Form(max_length=16)] = "click",
    back: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Reveal an item's blurred text (audited in review_exposure). review.js asks for JSON and unblurs in place;
    without script the form's answer is the page again, now showing the text."""
    check_csrf(request, csrf_token)
    store = store_of(request)
    item = store.item(item_id)
    reviewer = reviewer_of(request)
    wellness_of(request).reveal(reviewer, item, via)
    if "application/json" in request.headers.get("accept", ""):
        exposure = wellness_of(request).exposure(reviewer)
        return JSONResponse({"revealed": item_id, "revealed_today": exposure.revealed, "break_due": exposure.break_due})
    if back == "thread" and item["thread_id"]:
        return redirect(request, thread_path(item["thread_id"], fragment=f"reply-{item_id}"))
    return redirect(request, f"/items/{item_id}")


@router.post("/break", name="break_form")
def break_form(
    request: Request,
    choice: Annotated[str, Form(max_length=16)],
    csrf_token: Annotated[str, Form()] = "",
    here: Annotated[str, Form(max_length=600)] = "/",
) -> RedirectResponse:
    """The break prompt's answer: "taken" shows the break page, "dismissed" goes back to the page it was on."""
    check_csrf(request, csrf_token)
    wellness_of(request).take_break(reviewer_of(request), choice)
    if choice == "taken":
        return redirect(request, "/break")
    return redirect(request, here if here.startswith("/") and not here.startswith("//") and "\\" not in here else "/")


@router.get("/break", response_class=HTMLResponse, name="break_page")
def break_page(request: Request) -> HTMLResponse:
    return reviewer_page(request, "break.html", "/break")


@router.get("/wellness", response_class=HTMLResponse, name="wellness_page")
def wellness_page(request: Request, saved: bool = False) -> HTMLResponse:
    """The reviewer's preferences (blur, greyscale) and exposure today."""
    return reviewer_page(request, "wellness.html", "/wellness", saved=saved,
                         break_after=wellness_of(request).break_after)  # fmt: skip


@router.post("/wellness", name="wellness_form")
def wellness_form(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    blur: Annotated[bool, Form()] = False,
    greyscale: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    check_csrf(request, csrf_token)
    wellness_of(request).set_preferences(reviewer_of(request), blur=blur, greyscale=greyscale)
    return redirect(request, "/wellness?saved=true")


@router.post("/undo", name="undo_form")
def undo_form(request: Request, csrf_token: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf_token)
    undone = store_of(request).undo(reviewer_of(request))
    return redirect(request, f"/items/{undone['id']}")


@router.get("/static/{name}", name="static")
def static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise NotFound(f"no static file {name}")
    return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name])
