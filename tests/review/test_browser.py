"""The reviewer UI in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): queue, a decision by click,
one by keyboard shortcut, undo by shortcut, and attacker-controlled posts rendered as inert text.

scripts/setup-browser.sh installs Chromium in CI; without it these tests skip and say why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.components import missing_component
from tests.review.conftest import ALICE_KEY, ReviewServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCRIPT_PAYLOAD = '<script>window.__pwned = "script"; document.title = "pwned";</script>'
IMG_PAYLOAD = '<img src=x onerror="window.__pwned = \'img\'; document.title = \'pwned\'">'

if not CHROMIUM.exists() or shutil.which("chromium") is None:
    missing_component("/usr/bin/chromium is not installed (scripts/setup-browser.sh installs it: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, review_server: ReviewServer):
    context = browser.new_context(
        base_url=review_server.url, http_credentials={"username": "alice", "password": ALICE_KEY}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_queue_page_shows_counts_and_open_items(page, review_server):
    review_server.enqueue("ui-queue", "a reply waiting for review")
    counts = review_server.api("GET", "/counts").json()

    response = page.goto("/review/")

    assert response.status == 200
    assert int(page.locator('[data-count="pending"]').inner_text()) == counts["pending"] + counts["claimed"]
    assert int(page.locator('[data-count="decided"]').inner_text()) == counts["decided"]
    assert page.locator("table.queue tbody tr").count() >= 1


def test_a_click_decides_an_item(page, review_server):
    item_id = review_server.enqueue("ui-click", "I'm so sorry that happened to you")["id"]
    page.goto(f"/review/items/{item_id}")

    with page.expect_navigation():
        page.get_by_role("button", name="supportive").click()

    decided = review_server.api("GET", f"/items/{item_id}").json()
    assert (decided["status"], decided["decided_label"], decided["decided_by"]) == ("decided", "supportive", "alice")


def test_keyboard_shortcut_h_decides_harassing_and_u_undoes_it(page, review_server):
    item_id = review_server.enqueue("ui-key", "stop lying for attention")["id"]
    page.goto(f"/review/items/{item_id}")

    with page.expect_navigation():
        page.keyboard.press("h")
    after_h = review_server.api("GET", f"/items/{item_id}").json()
    with page.expect_navigation():
        page.keyboard.press("u")
    after_u = review_server.api("GET", f"/items/{item_id}").json()

    assert (after_h["status"], after_h["decided_label"]) == ("decided", "harassing")
    assert after_u["status"] == "pending"
    assert page.url.endswith(f"/review/items/{item_id}")


def test_shortcuts_are_ignored_while_typing_a_note(page, review_server):
    item_id = review_server.enqueue("ui-typing", "some reply")["id"]
    page.goto(f"/review/items/{item_id}")

    page.locator("#note").type("hesitant")
    page.wait_for_timeout(300)

    assert review_server.api("GET", f"/items/{item_id}").json()["status"] == "pending"


def test_script_and_img_payloads_render_as_text_and_run_nothing(page, review_server):
    reply, parent = SCRIPT_PAYLOAD + " reply", IMG_PAYLOAD + " parent"
    item_id = review_server.enqueue("ui-xss", reply, parent)["id"]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"/review/items/{item_id}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)

    assert page.title() == f"Item {item_id} · WithYou review"
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#reply-text").inner_text() == reply
    assert page.locator("#parent-text").inner_text() == parent
    assert page.get_by_text(SCRIPT_PAYLOAD, exact=False).count() >= 1
    assert page.locator("main img, main script").count() == 0
    assert not [url for url in requests if url.rstrip("/").endswith("/x")]


def test_payloads_in_the_queue_excerpt_are_text_too(page, review_server):
    review_server.enqueue("ui-xss-queue", IMG_PAYLOAD)

    page.goto("/review/?view=open")
    page.wait_for_timeout(300)

    assert page.title() == "Review queue · WithYou review"
    assert page.evaluate("window.__pwned") is None
    assert page.locator("table.queue img").count() == 0


def enqueue_explained(review_server, external_id: str, text: str, spans: list[dict]) -> int:
    """Store an item whose explanation marks `spans` (exact offsets), as the service does for `"explain": true`."""
    from serving.hooks import ReviewCandidate, now_utc
    from review.store import ReviewStore

    explanation = {"label": "harassing", "text": {"label": spans, "harassing": spans}, "parent_shift": None,
                   "parent": None}  # fmt: skip
    candidate = ReviewCandidate(
        id=external_id, text=text, parent_text=None, label="harassing",
        scores={"disclosure": 0.1, "supportive": 0.1, "harassing": 0.7, "neutral": 0.1}, action="review",
        model_version="tiny-test", classified_at=now_utc(), explanation=explanation,
    )  # fmt: skip
    return ReviewStore(f"sqlite:///{review_server.db}").enqueue(candidate)


def test_highlighted_payloads_render_as_text_inside_marks_with_a_legend(page, review_server):
    text = f"you are {SCRIPT_PAYLOAD} and {IMG_PAYLOAD} ok"
    script_at, img_at = text.index(SCRIPT_PAYLOAD), text.index(IMG_PAYLOAD)
    spans = [{"start": script_at, "end": script_at + len(SCRIPT_PAYLOAD), "weight": 0.41},
             {"start": img_at, "end": img_at + len(IMG_PAYLOAD), "weight": -0.12}]  # fmt: skip
    item_id = enqueue_explained(review_server, "ui-xss-mark", text, spans)

    page.goto(f"/review/items/{item_id}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)

    assert page.evaluate("window.__pwned") is None
    assert page.locator("#reply-text").inner_text() == text
    assert page.locator("#reply-text mark.toward").inner_text() == SCRIPT_PAYLOAD
    assert page.locator("#reply-text mark.against").inner_text() == IMG_PAYLOAD
    assert page.locator("#reply-text mark.toward").get_attribute("title") == "+0.41"
    assert page.locator("#highlight-legend").count() == 1
    assert page.locator("main img, main script, main [style]").count() == 0
    screenshot = review_server.directory / "explained-item.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0


def test_queue_shows_the_top_words_of_an_explained_item_as_text(page, review_server):
    text = f"liar {IMG_PAYLOAD}"
    item_id = enqueue_explained(review_server, "ui-why", text, [{"start": 5, "end": len(text), "weight": 0.5}])

    page.goto("/review/?view=open")
    page.wait_for_timeout(300)

    assert page.locator(f'tr[data-item="{item_id}"] td.why mark').inner_text() == IMG_PAYLOAD
    assert page.evaluate("window.__pwned") is None
    assert page.locator("table.queue img").count() == 0
