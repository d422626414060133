"""The reviewer API over HTTP, mounted at /review in the real BentoML server: queue, decide, undo, audit, auth."""

from __future__ import annotations

import httpx

from review.security import SECURITY_HEADERS
from tests.review.conftest import ALICE_KEY, BOB_KEY, CLASSIFY_KEY


def test_classified_posts_reach_the_queue_with_parent_scores_and_model_version(review_server):
    result = review_server.classify([{"id": "api-ctx", "text": "nobody believes you", "parent_text": "he hurt me"}])[0]

    item = review_server.queued("api-ctx")

    assert item["text"] == "nobody believes you" and item["parent_text"] == "he hurt me"
    assert item["scores"] == result["scores"] and item["action"] == result["action"] == "review"
    assert item["model_version"] == "tiny-test"
    assert set(item["parent_scores"]) == {"disclosure", "supportive", "harassing", "neutral"}


def test_queue_is_ordered_by_disclosure_reply_then_score_then_age(review_server):
    for n, (text, parent) in enumerate([("no way", "I was assaulted"), ("lol", None), ("liar", "my boss harassed me")]):
        review_server.enqueue(f"api-order-{n}", text, parent)

    items = review_server.api("GET", "/queue", params={"limit": 500}).json()["items"]
    keys = [(not i["parent_is_disclosure"], -i["harassing_score"], i["enqueued_at"], i["id"]) for i in items]

    assert keys == sorted(keys)


def test_decide_undo_and_audit_over_http(review_server):
    item_id = review_server.enqueue("api-cycle", "you asked for it")["id"]

    decided = review_server.api("POST", f"/items/{item_id}/decide", json={"decision": "harassing", "note": "confirmed"})
    undone = review_server.api("POST", f"/items/{item_id}/undo")
    redecided = review_server.api("POST", f"/items/{item_id}/decide", json={"decision": "neutral"}, reviewer="bob")
    audit = review_server.api("GET", f"/items/{item_id}/audit").json()

    assert decided.status_code == 200 and decided.json()["decided_label"] == "harassing"
    assert undone.status_code == 200 and undone.json()["status"] == "pending"
    assert redecided.json()["decided_by"] == "bob"
    assert [(e["event"], e["reviewer"]) for e in audit] == [("decide", "bob"), ("undo", "alice"), ("decide", "alice")]
    assert audit[2]["after"]["note"] == "confirmed"


def test_claim_conflict_is_a_409(review_server):
    item_id = review_server.enqueue("api-claim", "whatever")["id"]

    claimed = review_server.api("POST", f"/items/{item_id}/claim")
    stolen = review_server.api("POST", f"/items/{item_id}/decide", json={"decision": "neutral"}, reviewer="bob")

    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "alice"
    assert stolen.status_code == 409 and "claimed by alice" in stolen.json()["error"]


def test_undo_without_item_undoes_my_latest_decision(review_server):
    item_id = review_server.enqueue("api-undo-last", "some reply")["id"]
    review_server.api("POST", f"/items/{item_id}/decide", json={"decision": "supportive"}, reviewer="bob")

    undone = review_server.api("POST", "/undo", reviewer="bob")

    assert undone.status_code == 200 and undone.json()["id"] == item_id


def test_bad_decisions_are_400_json_and_unknown_items_404(review_server):
    item_id = review_server.enqueue("api-bad", "a reply")["id"]

    wrong = review_server.api("POST", f"/items/{item_id}/decide", json={"decision": "spam"})
    not_json = review_server.api("POST", f"/items/{item_id}/decide", content=b"decision=harassing",
                                 headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    missing = review_server.api("GET", "/items/999999")

    assert wrong.status_code == 400 and "decision" in wrong.json()["error"]
    assert not_json.status_code == 400 and "error" in not_json.json()
    assert missing.status_code == 404 and missing.json() == {"error": "no review item 999999"}


def test_no_credentials_get_401_everywhere_under_review(review_server):
    for path in ("/review/api/queue", "/review/", "/review/items/1", "/review/static/review.js", "/review/nope"):
        response = httpx.get(review_server.url + path, timeout=10)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(review_server.url + "/review/api/queue", timeout=10).json()["error"].startswith("reviewer auth")


def test_wrong_keys_and_the_classify_key_are_refused(review_server):
    def status(**headers) -> int:
        return httpx.get(f"{review_server.url}/review/api/queue", headers=headers, timeout=10).status_code

    assert status(**{"X-Review-Key": "not-a-reviewer-key-123"}) == 401
    assert status(**{"X-Review-Key": CLASSIFY_KEY}) == 401
    assert status(Authorization=f"Bearer {CLASSIFY_KEY}") == 401
    assert status(Authorization=f"Bearer {BOB_KEY}") == 200
    assert httpx.get(f"{review_server.url}/review/api/queue", auth=("bob", ALICE_KEY), timeout=10).status_code == 401


def test_reviewer_keys_do_not_open_classify(review_server):
    response = review_server.server.classify([{"text": "hello"}], headers={"X-API-Key": ALICE_KEY})

    assert response.status_code == 401


def test_basic_auth_changes_need_the_csrf_token(review_server):
    item_id = review_server.enqueue("api-csrf", "a reply")["id"]
    url = f"{review_server.url}/review/api/items/{item_id}/decide"
    auth = ("alice", ALICE_KEY)
    token = httpx.get(f"{review_server.url}/review/api/me", auth=auth, timeout=10).json()["csrf_token"]

    refused = httpx.post(url, json={"decision": "neutral"}, auth=auth, timeout=10)
    forged = httpx.post(url, json={"decision": "neutral"}, auth=auth, headers={"X-CSRF-Token": "0" * 64}, timeout=10)
    accepted = httpx.post(url, json={"decision": "neutral"}, auth=auth, headers={"X-CSRF-Token": token}, timeout=10)

    assert refused.status_code == 403 and forged.status_code == 403
    assert accepted.status_code == 200


def test_pages_carry_a_strict_csp_and_no_sniffing(review_server):
    response = httpx.get(f"{review_server.url}/review/", auth=("alice", ALICE_KEY), timeout=10)
    policy = response.headers["content-security-policy"]

    assert response.status_code == 200
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_review_store_never_logs_post_text(review_server):
    review_server.enqueue("api-log", "zqxj-private-post-words", "zqxj-private-parent-words")

    assert "zqxj-private" not in review_server.server.log_text()


def test_an_id_past_64_bits_is_a_404_with_the_headers_in_the_bentoml_mount(review_server):
    response = review_server.api("GET", f"/items/{2**63}")
    following = review_server.api("GET", "/counts")

    assert response.status_code == 404 and response.json()["error"].startswith(f"no review item {2**63}")
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert following.status_code == 200


def test_an_explained_classification_reaches_the_queue_with_its_spans(review_server):
    review_server.classify([{"id": "explained-1", "text": "Sure you were, liar.", "explain": True}])

    item = review_server.queued("explained-1")

    assert item["explanation"]["label"] == item["label"]
    assert set(item["explanation"]["text"]) == {"label", "harassing", "words_read", "words_explained"}
    assert item["explanation"]["text"]["words_explained"] == item["explanation"]["text"]["words_read"] == 4


def test_the_redirect_to_the_review_ui_carries_the_security_headers(review_server):
    response = httpx.get(f"{review_server.url}/review", timeout=10)  # answered by BentoML's router, not the app

    assert response.status_code == 307 and response.headers["location"].endswith("/review/")
    assert all(response.headers[name.decode()] == value.decode() for name, value in SECURITY_HEADERS)


def test_a_known_review_path_asked_with_another_method_is_a_405_in_the_bentoml_mount(review_server):
    response = review_server.api("PUT", "/queue")

    assert response.status_code == 405 and response.headers["allow"] == "GET"
