"""The appeals pages in headless Chromium (issue 21 item 6): the queue of open appeals with attacker-controlled
statements rendered as inert text, the original decider shown the appeal without a way to decide it, another
reviewer revealing the blurred post (v) and deciding the appeal from the keyboard, and `j` opening the oldest appeal
they may decide. Saves screenshots of the appeals queue and of an appeal's page (appeals-queue.png, appeal-page.png
in the review server's folder)."""

from __future__ import annotations

import re

import pytest

from review.store import ReviewStore
from tests.review.conftest import ALICE_KEY, BOB_KEY, ReviewServer
from tests.review.test_browser import IMG_PAYLOAD, SCRIPT_PAYLOAD, browser  # noqa: F401 (the browser fixture)

STATEMENTS = [
    f"{SCRIPT_PAYLOAD} I was quoting what he sent me so people would believe me.",
    f"{IMG_PAYLOAD} my reply was about the article, not about her.",
    "The word you flagged is how my friends and I talk to each other; nobody in the thread was hurt by it.",
]


def context(browser, review_server: ReviewServer, name: str, key: str):  # noqa: F811
    return browser.new_context(base_url=review_server.url, http_credentials={"username": name, "password": key})


@pytest.fixture
def appeals(review_server: ReviewServer) -> list[dict]:
    """Three posts hidden by alice (decided harassing) and appealed by their authors."""
    filed = []
    for n, statement in enumerate(STATEMENTS):
        external_id = f"ui-appeal-{n}-{len(review_server.api('GET', '/appeals').json()['appeals'])}"
        item_id = review_server.enqueue(external_id, f"reply number {n} that the model found harassing")["id"]
        assert review_server.api("POST", f"/items/{item_id}/decide", json={"decision": "harassing"}).status_code == 200
        response = review_server.api("POST", "/appeals", json={"external_id": external_id, "statement": statement})
        assert response.status_code == 201, response.text
        filed.append(response.json())
    return filed


def test_the_appeals_queue_lists_open_appeals_with_statements_as_text(browser, review_server, appeals):  # noqa: F811
    viewer = context(browser, review_server, "bob", BOB_KEY)
    page = viewer.new_page()

    response = page.goto("/review/appeals")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)

    assert response.status == 200 and "script-src 'self'" in response.headers["content-security-policy"]
    assert page.title() == "Appeals · WithYou review"
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script, main [style]").count() == 0
    for appeal, statement in zip(appeals, STATEMENTS):
        row = page.locator(f'tr[data-appeal="{appeal["id"]}"]')
        assert row.locator("td.statement").inner_text() == statement
        assert "harassing by alice" in row.inner_text()
    screenshot = review_server.directory / "appeals-queue.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0
    viewer.close()


def test_the_original_decider_sees_the_appeal_but_no_way_to_decide_it(browser, review_server, appeals):  # noqa: F811
    viewer = context(browser, review_server, "alice", ALICE_KEY)
    page = viewer.new_page()

    page.goto(f"/review/appeals/{appeals[0]['id']}")
    page.keyboard.press("s")
    page.wait_for_timeout(300)

    assert page.locator("#own-decision").is_visible()
    assert page.locator("button[data-decision]").count() == 0
    assert page.locator("#statement").inner_text() == STATEMENTS[0]
    assert page.evaluate("window.__pwned") is None
    assert review_server.api("GET", f"/appeals/{appeals[0]['id']}").json()["status"] == "pending"
    viewer.close()


def test_another_reviewer_overturns_an_appeal_with_a_key(browser, review_server, appeals):  # noqa: F811
    viewer = context(browser, review_server, "bob", BOB_KEY)
    page = viewer.new_page()
    page.goto(f"/review/appeals/{appeals[1]['id']}")
    assert page.locator('button[data-decision="harassing"]').inner_text().startswith("uphold: harassing")
    blurred_before = "blurred" in page.locator("#original-text").get_attribute("class")
    revealed_before = int(page.locator('[data-exposure="revealed"]').inner_text())
    page.screenshot(path=str(review_server.directory / "appeal-page.png"), full_page=True)

    page.keyboard.press("v")  # reveal the post under appeal (audited), then decide
    page.locator("#original-text.blurred").wait_for(state="detached")
    revealed_after = int(page.locator('[data-exposure="revealed"]').inner_text())
    with page.expect_navigation():
        page.keyboard.press("s")

    assert blurred_before and revealed_after == revealed_before + 1

    decided = review_server.api("GET", f"/appeals/{appeals[1]['id']}").json()
    assert (decided["status"], decided["outcome"], decided["label"], decided["decided_by"]) == (
        "decided", "overturned", "supportive", "bob")  # fmt: skip
    viewer.close()


def test_j_on_the_appeals_queue_opens_the_oldest_appeal_this_reviewer_may_decide(browser, review_server, appeals):  # noqa: F811
    oldest = ReviewStore(f"sqlite:///{review_server.db}").next_appeal_for("bob")
    viewer = context(browser, review_server, "bob", BOB_KEY)
    page = viewer.new_page()
    page.goto("/review/appeals")

    with page.expect_navigation():
        page.keyboard.press("j")

    assert re.search(rf"/review/appeals/{oldest}$", page.url)
    viewer.close()
