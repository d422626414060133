"""The reviewer web UI: server-rendered pages (Jinja2, autoescaped) and the one static script behind the shortcuts.

Posts are attacker-controlled. Every value reaches the page through Jinja2 autoescaping (no `|safe` anywhere),
the page runs no inline script (the CSP forbids it: review/security.py), and decisions are form POSTs
carrying the reviewer's CSRF token. After a decision the reviewer lands on the next item in priority order.
The decision buttons are the app's label set (the bundle's labels.json, review/app.py) plus escalate;
each gets the first letter of its name not yet taken as its shortcut (h s d n for the four default labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from review.api import ERRORS, MAX_NOTE_CHARS, check_csrf, reviewer_of, store_of
from review.models import LABEL_CHARS, OPEN_STATUSES
from review.store import ESCALATE, NotFound
from withyou.explain import segments, top_words

HERE = Path(__file__).parent
STATIC_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
RESERVED_KEYS = frozenset("jku")  # next, previous, undo (static/review.js)
VIEWS = {"open": OPEN_STATUSES, "escalated": ("escalated",), "decided": ("decided",)}

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
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status_code)


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
    page = render(request, "error.html", status_code=status, status=status, message=message)
    page.headers.update(headers or {})
    return page


@router.get("/", response_class=HTMLResponse, name="queue_page")
def queue_page(request: Request, view: str = "open", offset: int = 0) -> HTMLResponse:
    if view not in VIEWS:
        return error_page(request, 400, f"view must be one of {', '.join(VIEWS)}")
    store = store_of(request)
    page_size = request.app.state.settings.page_size
    offset = max(0, offset)
    items = store.queue(VIEWS[view], limit=page_size, offset=offset)  # ReviewError (400) past MAX_OFFSET
    why = {item["id"]: item_top_words(item) for item in items}
    return render(
        request, "queue.html", items=items, counts=store.counts(), view=view, views=list(VIEWS),
        offset=offset, page_size=page_size, first=store.next_for(reviewer_of(request)),
        shortcuts=shortcuts(request.app.state.labels), why=why,
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


@router.get("/items/{item_id}", response_class=HTMLResponse, name="item_page")
def item_page(request: Request, item_id: int) -> HTMLResponse:
    store = store_of(request)
    item = store.item(item_id)
    order = store.open_ids()
    if item_id in order:
        position = order.index(item_id)
        previous = order[position - 1] if position > 0 else None
        following = order[position + 1] if position + 1 < len(order) else None
    else:
        previous, following = None, store.next_for(reviewer_of(request))
    labels = request.app.state.labels
    return render(
        request, "item.html", item=item, scores=score_rows(item, labels), shortcuts=shortcuts(labels),
        previous=previous, following=following, counts=store.counts(), max_note=MAX_NOTE_CHARS,
        audit=store.audit(item_id, limit=20), highlights=highlights(item),
    )  # fmt: skip


@router.post("/items/{item_id}/decide", name="decide_form")
def decide_form(
    request: Request,
    item_id: int,
    decision: Annotated[str, Form(max_length=LABEL_CHARS)],
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
) -> RedirectResponse:
    check_csrf(request, csrf_token)
    store = store_of(request)
    store.decide(item_id, reviewer_of(request), decision, note.strip() or None)
    following = store.next_for(reviewer_of(request))
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/items/{following}" if following else f"{base}/", status_code=303)


@router.post("/undo", name="undo_form")
def undo_form(request: Request, csrf_token: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf_token)
    undone = store_of(request).undo(reviewer_of(request))
    return RedirectResponse(f"{request.scope.get('root_path', '')}/items/{undone['id']}", status_code=303)


@router.get("/static/{name}", name="static")
def static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise NotFound(f"no static file {name}")
    return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name])
