"""Review candidates as serving/hooks.py builds them, for the store-level tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from serving.hooks import ReviewCandidate, now_utc


def candidate(external_id: str | None, harassing: float, text: str = "a reply", parent_text: str | None = None) -> ReviewCandidate:
    rest = (1.0 - harassing) / 3
    return ReviewCandidate(
        id=external_id,
        text=text,
        parent_text=parent_text,
        label="harassing" if harassing >= 0.5 else "neutral",
        scores={"disclosure": rest, "supportive": rest, "harassing": harassing, "neutral": rest},
        action="review",
        model_version="test-model",
        classified_at=now_utc(),
    )


DISCLOSURE_PARENT = {"disclosure": 0.9, "supportive": 0.03, "harassing": 0.03, "neutral": 0.04}
NEUTRAL_PARENT = {"disclosure": 0.1, "supportive": 0.1, "harassing": 0.1, "neutral": 0.7}


class FakeClock:
    """A ReviewStore clock that moves only when told to (service levels and ages without sleeping)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
