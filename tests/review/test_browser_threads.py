"""The thread view and reviewer wellness in headless Chromium (Playwright), against `withyou review serve` on a real
SQLite file that the tests fill through the real store: the disclosure above its replies riskiest first, bulk
actions and the thread's resolution by keyboard, blurred harassing text that a screenshot cannot read until the
audited reveal, per-reviewer greyscale and blur, daily exposure, and the break prompt; all under the strict CSP.

Screenshots go to the test's folder, and also to $WITHYOU_SCREENSHOT_DIR when set (docs/screenshots/ holds the
ones the README shows). Under CI=true a missing Chromium fails these tests (tests/components.py).
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.review.test_browser import CHROMIUM, CHROMIUM_ARGS, IMG_PAYLOAD, SCRIPT_PAYLOAD  # skips/fails without Chromium
from tests.review.ui_server import (  # noqa: F401 (ui_server is a fixture)
    BREAK_AFTER,
    DISCLOSURE,
    DISCLOSURE_SCORES,
    KEYS,
    PILE_ON,
    UiServer,
    candidate,
    pile_on,
    thread_item_id,
    ui_server,
)

BLURRED_TEXT = "nobody believes you, you are a liar and everyone here knows it"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_as(browser, ui_server):
    """open_as(reviewer) → a Playwright page signed in as that reviewer; CSP violations are collected on it."""
    contexts = []

    def opener(reviewer: str):
        context = browser.new_context(base_url=ui_server.url, viewport={"width": 1280, "height": 900},
                                      http_credentials={"username": reviewer, "password": KEYS[reviewer]})  # fmt: skip
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.csp_violations = []
        page.on("console", lambda message: "Content Security Policy" in message.text
                and page.csp_violations.append(message.text))  # fmt: skip
        return page

    yield opener
    for context in contexts:
        context.close()


def save_screenshot(page, server: UiServer, name: str, **options) -> Path:
    path = server.directory / name
    page.screenshot(path=str(path), **options)
    if os.environ.get("WITHYOU_SCREENSHOT_DIR"):
        target = Path(os.environ["WITHYOU_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def row_ids(page) -> list[int]:
    return [int(value) for value in page.locator(".reply-row").evaluate_all("rows => rows.map(r => r.dataset.item)")]


def press(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def image_stats(page, png: bytes) -> dict:
    """Mean luminance gradient (edges: sharp text has many) and size of a PNG, decoded by Chromium's own canvas on a
    blank page (no CSP there, no image library needed)."""
    blank = page.context.new_page()
    try:
        return blank.evaluate(
            """async (b64) => {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
                const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
                const context = canvas.getContext("2d");
                context.drawImage(bitmap, 0, 0);
                const {data, width, height} = context.getImageData(0, 0, bitmap.width, bitmap.height);
                const lum = (x, y) => { const i = 4 * (y * width + x); return 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]; };
                let gradient = 0, n = 0;
                for (let y = 0; y < height - 1; y++) for (let x = 0; x < width - 1; x++) {
                    const here = lum(x, y);
                    gradient += Math.abs(here - lum(x + 1, y)) + Math.abs(here - lum(x, y + 1)); n++;
                }
                return {gradient: gradient / n, width, height};
            }""",
            base64.b64encode(png).decode("ascii"),
        )
    finally:
        blank.close()


def pixel_difference(page, first: bytes, second: bytes) -> float:
    """Mean absolute luminance difference of two same-sized PNGs (0 = identical, 255 = inverted)."""
    blank = page.context.new_page()
    try:
        return blank.evaluate(
            """async ([a, b]) => {
                const decode = async (b64) => {
                    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                    const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
                    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
                    canvas.getContext("2d").drawImage(bitmap, 0, 0);
                    return canvas.getContext("2d").getImageData(0, 0, bitmap.width, bitmap.height);
                };
                const [x, y] = [await decode(a), await decode(b)];
                if (x.width !== y.width || x.height !== y.height) return -1;
                let total = 0;
                for (let i = 0; i < x.data.length; i += 4) total += Math.abs(x.data[i] - y.data[i]);
                return total / (x.data.length / 4);
            }""",
            [base64.b64encode(first).decode("ascii"), base64.b64encode(second).decode("ascii")],
        )
    finally:
        blank.close()


# -- the thread view ----------------------------------------------------------------------------------------------


def test_the_thread_view_shows_the_disclosure_then_replies_riskiest_first(open_as, ui_server):
    ids = pile_on(ui_server, "bt-view")
    page = open_as("alice")

    response = page.goto(f"/review/items/{thread_item_id(ui_server, 'bt-view')}")

    assert response.status == 200
    assert page.locator("#root-text").inner_text() == DISCLOSURE
    assert row_ids(page) == [ids[text] for text, _, _ in sorted(PILE_ON, key=lambda reply: -reply[1])]
    first = page.locator(f"#reply-{ids[PILE_ON[0][0]]}")
    assert "P(harassing) 0.970" in first.locator("header").inner_text()
    assert "model harassing / hide" in first.locator("header").inner_text()
    assert page.locator(f"#reply-{ids[PILE_ON[1][0]]} mark.toward").inner_text() == "liar"
    assert page.locator("#thread-status .badge.attack").count() == 1
    assert page.locator("[data-shortcuts] button[data-decision='harassing']").count() == 0  # a thread takes no label
    assert page.locator("#resolve button[name='decision']").evaluate_all("bs => bs.map(b => b.value)") == [
        "resolved", "escalate"]  # fmt: skip
    save_screenshot(page, ui_server, "thread-view.png", full_page=True)
    assert page.csp_violations == []


def test_confirm_all_hidden_by_key_decides_each_hidden_reply_with_its_own_audit_row(open_as, ui_server):
    ids = pile_on(ui_server, "bt-confirm")
    page = open_as("alice")
    page.goto(f"/review/items/{thread_item_id(ui_server, 'bt-confirm')}")

    press(page, "C")

    hidden = [ids[text] for text, _, action in PILE_ON if action == "hide"]
    assert page.locator("#bulk-result").inner_text().startswith(f"confirm all hidden: {len(hidden)} replies changed")
    for item_id in ids.values():
        item, audit = ui_server.store.item(item_id), ui_server.store.audit(item_id)
        if item_id in hidden:
            assert (item["status"], item["decided_label"], item["decided_by"]) == ("decided", "harassing", "alice")
            assert [(row["event"], row["after"]["note"]) for row in audit] == [
                ("decide", "thread bulk action: confirm all hidden")]  # fmt: skip
        else:
            assert (item["status"], audit) == ("pending", [])


def test_hide_above_a_score_then_restore_selected_by_keyboard(open_as, ui_server):
    ids = pile_on(ui_server, "bt-hide")
    page = open_as("alice")
    page.goto(f"/review/items/{thread_item_id(ui_server, 'bt-hide')}")

    page.fill("#min-score", "0.7")
    page.locator("#min-score").evaluate("input => input.blur()")
    press(page, "H")
    above = {ids[text] for text, score, _ in PILE_ON if score >= 0.7}
    decided = {i for i in ids.values() if ui_server.store.item(i)["status"] == "decided"}
    page.keyboard.press("j")  # the riskiest reply is focused on load; j moves to the second
    page.keyboard.press("x")
    second = row_ids(page)[1]
    press(page, "R")

    assert decided == above
    assert ui_server.store.item(second)["status"] == "pending"
    assert [row["event"] for row in ui_server.store.audit(second)] == ["undo", "decide"]
    assert {i for i in ids.values() if ui_server.store.item(i)["status"] == "decided"} == above - {second}
    assert page.locator("#bulk-result").inner_text().startswith("restore: 1 replies changed")


def test_a_reply_is_decided_in_place_with_the_item_pages_keys(open_as, ui_server):
    ids = pile_on(ui_server, "bt-inplace")
    supportive = ids[PILE_ON[-1][0]]
    page = open_as("alice")
    page.goto(f"/review/items/{thread_item_id(ui_server, 'bt-inplace')}")

    for _ in range(len(PILE_ON) - 1):
        page.keyboard.press("j")
    press(page, "s")

    item = ui_server.store.item(supportive)
    assert (item["status"], item["decided_label"]) == ("decided", "supportive")
    assert page.url.endswith(f"#reply-{supportive}") and "/review/threads?id=bt-inplace" in page.url
    assert page.locator(".reply-row.focused").get_attribute("data-item") == str(supportive)
    assert sum(ui_server.store.item(i)["status"] == "decided" for i in ids.values()) == 1


def test_decision_keys_on_the_thread_view_need_a_chosen_reply(open_as, ui_server):
    ids = pile_on(ui_server, "bt-nokeys")
    page = open_as("alice")
    page.goto(f"/review/items/{thread_item_id(ui_server, 'bt-nokeys')}")
    page.evaluate("() => document.querySelectorAll('.reply-row').forEach(r => r.classList.remove('focused'))")

    page.keyboard.press("h")
    page.wait_for_timeout(400)

    assert all(ui_server.store.item(i)["status"] == "pending" for i in ids.values())


def test_resolving_the_thread_records_locked_and_support_sent(open_as, ui_server):
    pile_on(ui_server, "bt-resolve")
    thread_item = thread_item_id(ui_server, "bt-resolve")
    page = open_as("alice")
    page.goto(f"/review/items/{thread_item}")

    page.keyboard.press("L")
    page.keyboard.press("S")
    press(page, "T")
    page.goto("/review/threads?id=bt-resolve")

    decided = ui_server.store.item(thread_item)
    assert (decided["status"], decided["decided_label"], decided["note"]) == (
        "decided", "resolved", "thread locked; support sent")  # fmt: skip
    assert ui_server.store.audit(thread_item)[0]["after"]["decided_label"] == "resolved"
    assert "thread locked; support sent" in page.locator("#resolution").inner_text()
    assert page.locator("#resolve").count() == 0


def test_attacker_text_in_a_thread_renders_as_text_and_runs_nothing(open_as, ui_server):
    thread_id = f"bt-xss-{IMG_PAYLOAD}"
    replies = [(f"{SCRIPT_PAYLOAD} {n}", 0.9, "hide") for n in range(5)]
    for n, (text, score, action) in enumerate(replies):
        ui_server.store.enqueue(candidate(f"xss-{n}", text, score, action, thread_id, parent_text=IMG_PAYLOAD))
    page = open_as("alice")

    page.goto(f"/review/items/{thread_item_id(ui_server, thread_id)}")
    page.wait_for_timeout(300)

    assert page.evaluate("window.__pwned") is None
    assert page.locator("#thread-id").inner_text() == thread_id
    assert page.locator("#root-text").inner_text() == IMG_PAYLOAD
    assert page.locator("main img, main script, main [style]").count() == 0
    assert page.csp_violations == []


# -- wellness --------------------------------------------------------------------------------------------------


def test_blurred_text_is_unreadable_in_a_screenshot_until_revealed_by_key(open_as, ui_server):
    item_id = ui_server.store.enqueue(candidate("bw-blur", BLURRED_TEXT, 0.96, parent_text=DISCLOSURE),
                                      parent_scores=DISCLOSURE_SCORES)  # fmt: skip
    page = open_as("carol")
    page.goto(f"/review/items/{item_id}")
    text = page.locator("#reply-text")

    blurred_png = text.screenshot()
    selected = page.evaluate("""() => { const range = document.createRange();
        range.selectNodeContents(document.getElementById('reply-text'));
        getSelection().removeAllRanges(); getSelection().addRange(range); return getSelection().toString(); }""")
    save_screenshot(page, ui_server, "blurred-item.png", full_page=True)
    page.keyboard.press("v")
    page.wait_for_function("() => !document.getElementById('reply-text').classList.contains('blurred')")
    page.evaluate("() => getSelection().removeAllRanges()")
    revealed_png = text.screenshot()
    save_screenshot(page, ui_server, "revealed-item.png", full_page=True)

    blurred, revealed = image_stats(page, blurred_png), image_stats(page, revealed_png)
    assert revealed["gradient"] > 4 * blurred["gradient"], (blurred, revealed)
    assert pixel_difference(page, blurred_png, revealed_png) > 15.0
    assert BLURRED_TEXT not in selected  # user-select: none
    assert text.get_attribute("aria-hidden") is None
    reveals = [row for row in ui_server.wellness.audit("carol") if row["event"] == "reveal"]
    assert [(row["item_id"], row["via"]) for row in reveals] == [(item_id, "key")]
    assert page.locator('[data-exposure="revealed"]').inner_text() == "1"
    assert page.csp_violations == []


def test_a_reveal_by_click_in_the_thread_view_is_audited_and_stays_for_the_day(open_as, ui_server):
    ids = pile_on(ui_server, "bt-reveal")
    target = ids[PILE_ON[0][0]]
    page = open_as("carol")
    page.goto("/review/threads?id=bt-reveal")
    blurred_before = page.locator(".reply-row .text.blurred").count()

    page.locator(f"#reply-{target} .reveal-button").click()
    page.wait_for_function(f"() => !document.getElementById('reply-text-{target}').classList.contains('blurred')")
    page.reload()

    assert blurred_before == sum(score >= 0.5 for _, score, _ in PILE_ON)
    assert "blurred" not in page.locator(f"#reply-text-{target}").get_attribute("class")
    assert page.locator(".reply-row .text.blurred").count() == blurred_before - 1
    reveal_rows = [row for row in ui_server.wellness.audit("carol") if row["event"] == "reveal" and row["item_id"] == target]
    assert [row["via"] for row in reveal_rows] == ["click"]


def test_greyscale_and_blur_preferences_are_per_reviewer(open_as, ui_server):
    item_id = ui_server.store.enqueue(candidate("bw-prefs", BLURRED_TEXT, 0.93), parent_scores=DISCLOSURE_SCORES)
    dave, alice = open_as("dave"), open_as("alice")
    dave.goto("/review/wellness")

    dave.locator("#pref-blur").uncheck()
    dave.locator("#pref-greyscale").check()
    with dave.expect_navigation():
        dave.locator("#save-preferences").click()
    dave.goto(f"/review/items/{item_id}")
    alice.goto(f"/review/items/{item_id}")

    assert dave.locator("html").get_attribute("class") == "greyscale"
    assert dave.evaluate("getComputedStyle(document.documentElement).filter") == "grayscale(1)"
    assert "blurred" not in dave.locator("#reply-text").get_attribute("class")
    assert dave.locator('[data-exposure="revealed"]').inner_text() == "1"  # shown unblurred: counted as revealed
    assert "blurred" in alice.locator("#reply-text").get_attribute("class")
    assert alice.locator("html").get_attribute("class") is None
    assert [row["via"] for row in ui_server.wellness.audit("dave") if row["event"] == "reveal"] == ["unblurred"]
    save_screenshot(dave, ui_server, "greyscale-unblurred-item.png", full_page=True)


def test_daily_exposure_is_shown_to_the_reviewer(open_as, ui_server):
    items = [ui_server.store.enqueue(candidate(f"bw-count-{n}", f"reply {n}", 0.2)) for n in range(2)]
    page = open_as("frank")

    for item_id in items + items:
        page.goto(f"/review/items/{item_id}")
    page.goto("/review/wellness")

    assert page.locator('#exposure-today [data-exposure="seen"]').inner_text() == "2"
    assert page.locator('#exposure-today [data-exposure="revealed"]').inner_text() == "0"


def test_a_break_prompt_follows_harassing_items_in_a_row_and_holds_the_keys(open_as, ui_server):
    items = [ui_server.store.enqueue(candidate(f"bw-run-{n}", f"you liar number {n}", 0.9)) for n in range(BREAK_AFTER)]
    page = open_as("erin")

    for item_id in items[:-1]:
        page.goto(f"/review/items/{item_id}")
        assert page.locator("#break-prompt").count() == 0
    page.goto(f"/review/items/{items[-1]}")
    prompt_shown = page.locator("#break-prompt").is_visible()
    save_screenshot(page, ui_server, "break-prompt.png")
    page.keyboard.press("h")  # held while the prompt is open
    page.wait_for_timeout(300)
    held = ui_server.store.item(items[-1])["status"]
    press(page, "c")  # keep going: back to the same item, the run starts again
    after_dismiss = (page.url, page.locator("#break-prompt").count())
    page.goto(f"/review/items/{items[0]}")

    assert prompt_shown
    assert held == "pending"
    assert after_dismiss == (f"{ui_server.url}/review/items/{items[-1]}", 0)
    assert page.locator("#break-prompt").count() == 0
    assert [row["via"] for row in ui_server.wellness.audit("erin") if row["event"] == "break"] == ["dismissed"]
    assert page.csp_violations == []


def test_taking_the_break_opens_the_break_page_and_counts_it(open_as, ui_server):
    items = [ui_server.store.enqueue(candidate(f"bw-take-{n}", f"liar {n}", 0.9)) for n in range(BREAK_AFTER)]
    page = open_as("erin")
    for item_id in items:
        page.goto(f"/review/items/{item_id}")

    press(page, "b")

    assert page.url == f"{ui_server.url}/review/break"
    assert page.locator("#break-page").is_visible()
    assert ui_server.wellness.exposure("erin").breaks == 1
