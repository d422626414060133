"""An answer that breaks its own schema is our bug: /classify says 500, never the 400 "invalid request" that
BentoML gives every pydantic error, and the log names the broken field, never the post.

The server runs with a fault (tests/serving/faults_answer/) that gives items with a "bad-answer" id an action
outside allow / review / hide.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.serving.conftest import start_server, stop_server

FAULTS = Path(__file__).parent / "faults_answer"
MARKER = "okapi3marker"


@pytest.fixture(scope="module")
def faulty(tiny_random_bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    python_path = os.pathsep.join(filter(None, [str(FAULTS), os.environ.get("PYTHONPATH")]))
    log_path = tmp_path_factory.mktemp("invalid_answer") / "server.log"
    running = start_server(tiny_random_bundle, log_path, env={"PYTHONPATH": python_path})
    yield running
    stop_server(running)


def test_an_answer_that_breaks_its_schema_is_a_500_logged_without_the_post(faulty):
    broken = faulty.classify([{"id": "bad-answer-1", "text": f"{MARKER}: he followed me home"}])
    fine = faulty.classify([{"id": "ok-1", "text": f"{MARKER}: the meeting moved to thursday"}])
    stop_server(faulty)  # flush the log before reading it

    assert broken.status_code == 500, broken.text
    assert "invalid request" not in broken.text and MARKER not in broken.text
    assert broken.json()["error"]
    assert fine.status_code == 200 and fine.json()[0]["action"] in ("allow", "review", "hide")
    log = faulty.log_text()
    assert "/classify built an answer its schema refuses (a bug, answered 500): action (literal_error)" in log
    assert "/classify answered 500 (internal)" in log
    assert MARKER not in log
