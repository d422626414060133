"""A reviewer app alone (`withyou review serve`, no model) on a real SQLite file, filled through the real store:
the server the thread-view and wellness tests (browser and HTTP) share. Reviewers alice, carol, dave, erin, frank,
gina and hana have plain keys; the break prompt comes after BREAK_AFTER harassing items in a row."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from review.store import ReviewStore
from review.wellness import Wellness
from serving.hooks import ReviewCandidate, now_utc
from serving.process import free_port, start_process, stop_process
from tests.serving.conftest import withyou_command

KEYS = {name: f"{name}-review-key-0123456789" for name in ("alice", "carol", "dave", "erin", "frank", "gina", "hana")}
BREAK_AFTER = 3
DISCLOSURE = "I was assaulted by my manager last year. I'm finally saying it out loud. I still can't sleep some nights."
DISCLOSURE_SCORES = {"disclosure": 0.93, "supportive": 0.03, "harassing": 0.02, "neutral": 0.02}
PILE_ON = [  # (text, P(harassing), action): replies of a pile-on under one disclosure
    ("nobody believes you, stop lying for attention", 0.97, "hide"),
    ("liar. you wanted it and now you want money", 0.95, "hide"),
    ("lol another one crying for clout", 0.88, "hide"),
    ("if this were true you would have gone to the police", 0.71, "review"),
    ("delete this, you are ruining his life", 0.64, "review"),
    ("I'm so sorry. I believe you, and none of this was your fault.", 0.08, "review"),
]


@dataclass
class UiServer:
    url: str
    directory: Path
    store: ReviewStore
    wellness: Wellness


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory) -> Iterator[UiServer]:
    directory = tmp_path_factory.mktemp("review_ui")
    reviewers = directory / "reviewers.json"
    reviewers.write_text(json.dumps(KEYS), encoding="utf-8")
    db = directory / "review.db"
    port = free_port()
    command = [*withyou_command(), "review", "serve", "--port", str(port), "--db", str(db),
               "--reviewers-file", str(reviewers)]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith("WITHYOU_")}
    env["WITHYOU_REVIEW_BREAK_AFTER"] = str(BREAK_AFTER)
    url = f"http://127.0.0.1:{port}"
    process = start_process(command, url, env, directory / "server.log", timeout_s=60)
    store = ReviewStore(f"sqlite:///{db}")
    yield UiServer(url, directory, store, Wellness(store.engine))
    stop_process(process)


def candidate(external_id: str, text: str, harassing: float, action: str = "review", thread_id: str | None = None,
              parent_text: str | None = DISCLOSURE, explanation: dict | None = None) -> ReviewCandidate:  # fmt: skip
    rest = (1.0 - harassing) / 3
    return ReviewCandidate(
        id=external_id, text=text, parent_text=parent_text, label="harassing" if harassing >= 0.5 else "supportive",
        scores={"disclosure": rest, "supportive": rest, "harassing": harassing, "neutral": rest}, action=action,
        model_version="tiny-test", classified_at=now_utc(), thread_id=thread_id, explanation=explanation,
    )  # fmt: skip


def explained(text: str, word: str, weight: float) -> dict:
    start = text.index(word)
    spans = [{"start": start, "end": start + len(word), "weight": weight}]
    return {"label": "harassing", "text": {"label": spans, "harassing": spans}, "parent_shift": None, "parent": None}


def pile_on(server: UiServer, thread_id: str, replies=PILE_ON) -> dict[str, int]:
    """Queue the replies under `thread_id` (the fifth counted one puts it under attack); {text: item id}."""
    ids = {}
    for n, (text, score, action) in enumerate(replies):
        explanation = explained(text, "liar", 0.42) if "liar" in text else None
        ids[text] = server.store.enqueue(candidate(f"{thread_id}-{n}", text, score, action, thread_id,
                                                   explanation=explanation), parent_scores=DISCLOSURE_SCORES)  # fmt: skip
    return ids


def thread_item_id(server: UiServer, thread_id: str) -> int:
    return server.store.thread_view(thread_id)["item"]["id"]
