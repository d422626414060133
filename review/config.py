"""Review settings: one typed object read from `WITHYOU_REVIEW_*` environment variables (every CLI flag overrides).

    WITHYOU_REVIEW_DB               SQLAlchemy URL (postgresql+psycopg://…) or a SQLite file path
                                    [default: <artifacts>/review/review.db]
    WITHYOU_REVIEW_REVIEWERS_FILE   JSON {reviewer name: API key or "sha256:<hex>"}; the reviewer API and UI
                                    under /review are on only when this is set
    WITHYOU_REVIEW_SECRET           optional extra secret mixed into CSRF tokens
    WITHYOU_REVIEW_RETENTION_DAYS   `withyou review purge` default: blank decided posts older than this [90]
    WITHYOU_REVIEW_CLAIM_MINUTES    a claim expires after this long, so an abandoned item returns to the queue [15]
    WITHYOU_REVIEW_STORE_ATTEMPTS   tries per enqueue on a transient database error [3]
    WITHYOU_REVIEW_STORE_BACKOFF_S  first retry delay, doubled each retry [0.2]
    WITHYOU_REVIEW_CLASSIFY_PARENTS classify each parent post at enqueue to rank replies to disclosures first [true]
    WITHYOU_REVIEW_BUNDLE           bundle whose labels.json is the label set when the review app runs alone
                                    (`withyou review serve`); inside `withyou serve` the served bundle's labels
                                    win [unset → withyou.labels.LABELS]

The names avoid the serving settings' own `WITHYOU_REVIEW_SINK/APP/ACTIONS/THRESHOLD/QUEUE_SIZE` (serving/config.py).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from withyou import paths
from withyou.bundle import BundleError
from withyou.labels import LABELS

ENV_PREFIX = "WITHYOU_REVIEW_"
SINK_REF = "review.sink:create_sink"
LABEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # fits models.LABEL_CHARS, a form field and a CSS class


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    db: str | None = Field(None, description="SQLAlchemy URL or SQLite path [artifacts/review/review.db]")
    reviewers_file: Path | None = Field(None, description="JSON {name: key}; turns the reviewer API/UI on")
    secret: SecretStr | None = Field(None, description="extra secret mixed into CSRF tokens")
    retention_days: int = Field(90, ge=1)
    claim_minutes: int = Field(15, ge=1)
    store_attempts: int = Field(3, ge=1, le=10)
    store_backoff_s: float = Field(0.2, ge=0.0, le=5.0)
    classify_parents: bool = True
    page_size: int = Field(50, ge=1, le=500)
    bundle: str | None = Field(None, description="bundle (directory or registry ref) whose labels.json reviewers use")

    def database_url(self) -> str:
        return database_url(self.db)


def database_url(db: str | None) -> str:
    """A SQLAlchemy URL from a URL, a SQLite file path, or nothing (the default file under the artifacts folder)."""
    if db and "://" in db:
        return db
    path = Path(db).expanduser() if db else paths.review_dir() / "review.db"
    return f"sqlite:///{path.resolve()}"


@cache
def get_review_settings() -> ReviewSettings:
    return ReviewSettings()


def label_set(bundle: str | None) -> tuple[str, ...]:
    """The labels reviewers choose from: the bundle's labels.json in logit order, or withyou.labels.LABELS.

    Reads labels.json and metadata.json only (no onnxruntime session), with the core's checks (withyou.integrity
    read_labels: two or more distinct names, in the order the model was trained with). Raises BundleError naming
    the file, also when a name is not a LABEL_NAME or is "escalate", the reviewers' own decision.
    """
    if not bundle:
        return LABELS
    from withyou.integrity import read_labels, read_metadata
    from withyou.registry import resolve_bundle

    bundle_dir = resolve_bundle(bundle)
    labels = read_labels(bundle_dir, read_metadata(bundle_dir))
    if not all(LABEL_NAME.match(name) for name in labels) or "escalate" in labels:
        raise BundleError(
            f"{bundle_dir / 'labels.json'} must list two or more distinct label names "
            "(lower-case letters, digits, _; not 'escalate')"
        )
    return tuple(labels)
