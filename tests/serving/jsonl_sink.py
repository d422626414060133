"""A real review sink for the tests: appends each candidate to the JSONL file named by WITHYOU_TEST_SINK_FILE.

It raises for ids starting with "fail", so the tests can show a failing sink never fails /classify.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict
from pathlib import Path

from serving.hooks import ReviewCandidate


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def enqueue(self, candidate: ReviewCandidate) -> None:
        if (candidate.id or "").startswith("fail"):
            raise OSError("this sink refuses ids starting with 'fail'")
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(candidate), ensure_ascii=False) + "\n")


def make_sink(classifier) -> JsonlSink:
    return JsonlSink(Path(os.environ["WITHYOU_TEST_SINK_FILE"]))
