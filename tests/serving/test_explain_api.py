"""POST /classify with `"explain": true` and the language fields, on a real server with the tiny bundle."""

from __future__ import annotations

import threading

import httpx

REPLY = "Sure you were. Pics or it didn't happen."
PARENT = "My manager cornered me in the supply room last year and I never told anyone."


def test_every_answer_carries_lang_and_confidence(server):
    (result,) = server.classify([{"id": "p1", "text": "I believe you, and I am so sorry this happened to you."}]).json()

    assert result["lang"] == "en"
    assert 0.5 <= result["lang_confidence"] <= 1.0
    assert result["reason"] is None
    assert result["explanation"] is None


def test_explain_is_off_by_default_and_per_item(server):
    plain, explained = server.classify(
        [{"id": "a", "text": REPLY}, {"id": "b", "text": REPLY, "parent_text": PARENT, "explain": True}]
    ).json()

    assert plain["explanation"] is None
    explanation = explained["explanation"]
    assert explanation["label"] == explained["label"]
    for span in explanation["text"]["label"] + explanation["text"]["harassing"]:
        assert 0 <= span["start"] < span["end"] <= len(REPLY)
    assert set(explanation["parent_shift"]) == {"label", "harassing"}


def test_top_level_explain_applies_to_every_item(server):
    response = server.classify_body({"items": [{"text": REPLY}, {"text": "lovely weather today"}], "explain": True})

    assert response.status_code == 200
    assert all(result["explanation"] is not None for result in response.json())


def test_explain_over_the_item_cap_is_a_400_naming_the_cap(server):
    items = [{"text": f"post {i}", "explain": True} for i in range(17)]

    response = server.classify(items)

    assert response.status_code == 400
    assert "at most 16" in response.json()["error"]


def test_explain_that_is_not_a_boolean_is_a_400(server):
    response = server.classify_body({"items": [{"text": REPLY}], "explain": "yes"})

    assert response.status_code == 400
    assert "explain" in response.json()["error"]


def test_explanations_never_log_text(server):
    marker = "Zanzibarquux"
    server.classify([{"id": "x1", "text": f"{marker} is a liar", "explain": True}])

    assert marker not in server.log_text()


def test_metrics_count_items_by_language(server):
    import httpx

    server.classify([{"text": "Je te crois, ce n'est pas de ta faute et tu n'es pas seule."}])
    metrics = httpx.get(f"{server.url}/metrics", timeout=30).text

    assert 'withyou_items_by_language_total{lang="fr",supported="no"}' in metrics
    assert 'withyou_items_by_language_total{lang="en",supported="yes"}' in metrics


def worst_case_explain_body() -> dict:
    """16 items to explain, each with a 5,000-character text and parent: the largest explain request allowed."""
    text = " ".join(("liar", "attention", "office", "never") * 313)[:5000]
    return {"items": [{"id": f"e{i}", "text": text, "parent_text": text, "explain": True} for i in range(16)]}


def test_worst_case_explanations_are_bounded_and_never_shut_out_plain_requests(server):
    """Explain work is admitted in model runs in its own pool: while clients keep sending worst-case explain
    requests, 1-item plain requests are all answered 200 (the old 40-items-per-explanation count took the whole
    640-item queue and answered them 429)."""
    body = worst_case_explain_body()
    explain_answers: list[httpx.Response] = []
    plain_statuses: list[int] = []
    done = threading.Event()

    def explain_client() -> None:
        for _ in range(2):
            explain_answers.append(httpx.post(f"{server.url}/classify", json=body, timeout=120))

    def plain_client() -> None:
        while not done.is_set():
            response = httpx.post(f"{server.url}/classify", json={"items": [{"text": "lovely weather"}]}, timeout=60)
            plain_statuses.append(response.status_code)

    explainers = [threading.Thread(target=explain_client) for _ in range(3)]
    plain = threading.Thread(target=plain_client)
    for thread in [*explainers, plain]:
        thread.start()
    for thread in explainers:
        thread.join()
    done.set()
    plain.join()

    assert plain_statuses and set(plain_statuses) == {200}, sorted(set(plain_statuses))
    assert {r.status_code for r in explain_answers} <= {200, 429}
    answered = [r.json() for r in explain_answers if r.status_code == 200]
    assert answered
    for result in answered[0]:
        text = result["explanation"]["text"]
        assert 0 < text["words_read"] < 100  # the words inside the model's window, not the post's 1,250
        assert text["words_explained"] == text["words_read"]
        assert result["explanation"]["note"] is None
    refused = [r for r in explain_answers if r.status_code == 429]
    for response in refused:
        assert int(response.headers["retry-after-ms"]) >= 50
