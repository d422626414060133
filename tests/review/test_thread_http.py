"""The thread view's and wellness routes over HTTP (`withyou review serve`, tests/review/ui_server.py): bad input is
a clear 4xx, changes need the CSRF token, a thread item takes no label through the API either, and the pages
carry the strict CSP with no inline script or style."""

from __future__ import annotations

import re

import httpx
import pytest

from review.security import CONTENT_SECURITY_POLICY
from tests.review.ui_server import KEYS, PILE_ON, UiServer, candidate, pile_on, thread_item_id, ui_server  # noqa: F401


@pytest.fixture
def client(ui_server: UiServer):
    """Signed in as gina by HTTP Basic (as a browser is), with her CSRF token at hand."""
    with httpx.Client(base_url=f"{ui_server.url}/review", auth=("gina", KEYS["gina"]), timeout=15) as session:
        session.csrf = session.get("/api/me").json()["csrf_token"]
        yield session


def test_the_thread_and_wellness_pages_carry_the_csp_and_no_inline_script_or_style(client, ui_server):
    pile_on(ui_server, "ht-csp")
    harassing = ui_server.store.enqueue(candidate("ht-csp-item", "you liar", 0.9))

    for path in ("/threads?id=ht-csp", f"/items/{harassing}", "/wellness", "/break", "/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", page.text), path


def test_an_unknown_or_missing_thread_is_a_4xx(client):
    assert client.get("/threads?id=no-such-thread").status_code == 404
    missing = client.get("/threads")
    assert missing.status_code == 400 and "id" in missing.text
    assert client.get("/threads?id=" + "x" * 300).status_code == 400


def test_bulk_actions_refuse_bad_input_with_400_and_a_missing_token_with_403(client, ui_server):
    pile_on(ui_server, "ht-bulk")
    form = {"thread_id": "ht-bulk", "csrf_token": client.csrf}

    unknown = client.post("/threads/bulk", data={**form, "action": "delete_all"})
    no_score = client.post("/threads/bulk", data={**form, "action": "hide_above", "min_score": ""})
    bad_score = client.post("/threads/bulk", data={**form, "action": "hide_above", "min_score": "2"})
    bad_id = client.post("/threads/bulk", data={**form, "action": "restore", "item_id": "abc"})
    no_token = client.post("/threads/bulk", data={"thread_id": "ht-bulk", "action": "confirm_hidden"})

    assert unknown.status_code == 400 and "action must be one of confirm_hidden, hide_above, restore" in unknown.text
    assert no_score.status_code == 400 and "hide_above needs min_score between 0 and 1" in no_score.text
    assert (bad_score.status_code, bad_id.status_code, no_token.status_code) == (400, 400, 403)
    assert all(item["status"] == "pending" for item in ui_server.store.thread_view("ht-bulk")["replies"])


def test_a_bulk_action_answers_with_the_thread_view_and_its_tally(client, ui_server):
    pile_on(ui_server, "ht-tally")

    answer = client.post("/threads/bulk", data={"thread_id": "ht-tally", "csrf_token": client.csrf,
                                                "action": "hide_above", "min_score": "0.9"})  # fmt: skip

    assert answer.status_code == 303
    assert answer.headers["location"] == "/review/threads?id=ht-tally&done=hide_above&changed=2&skipped=0"
    shown = client.get(ui_server.url + answer.headers["location"])
    assert "hide all at or above: 2 replies changed." in shown.text


def test_the_api_refuses_a_label_for_a_thread_item(client, ui_server):
    pile_on(ui_server, "ht-api")
    thread_item = thread_item_id(ui_server, "ht-api")

    refused = client.post(f"/api/items/{thread_item}/decide", json={"decision": "harassing"},
                          headers={"X-CSRF-Token": client.csrf})  # fmt: skip

    assert refused.status_code == 400
    assert refused.json()["error"] == "a thread item's decision must be one of resolved, escalate; got 'harassing'"


def test_resolving_a_post_item_is_refused(client, ui_server):
    post = ui_server.store.enqueue(candidate("ht-resolve-post", "a reply", 0.2))

    answer = client.post(f"/items/{post}/resolve", data={"decision": "resolved", "csrf_token": client.csrf})

    assert answer.status_code == 400 and f"item {post} is not a thread item" in answer.text


def test_revealing_needs_the_token_and_something_blurred(client, ui_server):
    harassing = ui_server.store.enqueue(candidate("ht-reveal-h", "you liar", 0.9))
    benign = ui_server.store.enqueue(candidate("ht-reveal-b", "so sorry", 0.1))

    no_token = client.post(f"/items/{harassing}/reveal", data={"via": "click"})
    nothing = client.post(f"/items/{benign}/reveal", data={"via": "click", "csrf_token": client.csrf})
    bad_via = client.post(f"/items/{harassing}/reveal", data={"via": "mouse", "csrf_token": client.csrf})
    as_json = client.post(f"/items/{harassing}/reveal", data={"via": "key", "csrf_token": client.csrf},
                          headers={"Accept": "application/json"})  # fmt: skip
    as_form = client.post(f"/items/{harassing}/reveal", data={"via": "click", "csrf_token": client.csrf})

    assert (no_token.status_code, nothing.status_code, bad_via.status_code) == (403, 409, 400)
    assert as_json.status_code == 200 and as_json.json()["revealed"] == harassing
    assert as_form.status_code == 303 and as_form.headers["location"] == f"/review/items/{harassing}"
    reveals = [row["via"] for row in ui_server.wellness.audit("gina") if row["event"] == "reveal"]
    assert reveals == ["click", "key"]
    assert 'class="text blurred"' not in client.get(f"/items/{harassing}").text  # revealed stays revealed today


def test_the_break_answer_is_checked_and_never_redirects_off_site(client):
    bad = client.post("/break", data={"choice": "nap", "csrf_token": client.csrf})
    off_site = client.post("/break", data={"choice": "dismissed", "here": "//evil.example/", "csrf_token": client.csrf})
    back = client.post("/break", data={"choice": "dismissed", "here": "/items/5", "csrf_token": client.csrf})

    assert bad.status_code == 400 and "a break is recorded via taken or dismissed" in bad.text
    assert off_site.status_code == 303 and off_site.headers["location"] == "/review/"
    assert back.headers["location"] == "/review/items/5"


def test_preferences_are_saved_per_reviewer_and_need_the_token(ui_server):
    with httpx.Client(base_url=f"{ui_server.url}/review", auth=("hana", KEYS["hana"]), timeout=15) as hana:
        token = hana.get("/api/me").json()["csrf_token"]
        refused = hana.post("/wellness", data={"greyscale": "true"})
        saved = hana.post("/wellness", data={"greyscale": "true", "csrf_token": token})
        queue = hana.get("/").text

    assert (refused.status_code, saved.status_code) == (403, 303)
    preferences = ui_server.wellness.preferences("hana")
    assert (preferences.blur, preferences.greyscale) == (False, True)  # an unchecked box is off
    assert '<html lang="en" class="greyscale">' in queue
    assert ui_server.wellness.preferences("alice").greyscale is False
