"""What the review store refuses, each with the HTTP status the reviewer API answers with (review/app.py).

Messages name ids, labels and what is wrong, never post text or an appeal statement: they reach API answers and
may reach logs. review/store.py re-exports these names, where the rest of the app imports them from.
"""

from __future__ import annotations


class ReviewError(Exception):
    """A request the store refuses; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(ReviewError):
    """Allowed to others, not to this reviewer: the original decider deciding the appeal of their decision."""

    status = 403


class NotFound(ReviewError):
    status = 404


class Conflict(ReviewError):
    status = 409


class StoreUnavailable(ReviewError):
    status = 503
