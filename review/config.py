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

Reviewer wellness (issue 21, review/wellness.py):
    WITHYOU_REVIEW_BLUR_HARASSING   blur text labelled harassing until revealed, for reviewers who have not set
                                    their own preference [true]
    WITHYOU_REVIEW_BREAK_AFTER      harassing items in a row before the UI prompts for a break; 0 = never [10]

Threads and authors (issue 21, review/threads.py; review/README.md has the table):
    WITHYOU_REVIEW_AUTHOR_KEY       HMAC key (≥ 32 characters) for author ids; unset → author ids are dropped and
                                    the repeat-author signal is off
    WITHYOU_REVIEW_PILE_ON_COUNT / _PILE_ON_WINDOW_MINUTES   ≥ this many counted replies within the window [5 / 60]
    WITHYOU_REVIEW_PILE_ON_SHARE / _PILE_ON_LAST             ≥ this share of the last N replies counted [0.3 / 20]
    WITHYOU_REVIEW_ATTACK_HOLD_HOURS   answers say under_attack until the last counted reply is this old [24]
    WITHYOU_REVIEW_REPEAT_AUTHOR_HIDDEN / _REPEAT_AUTHOR_WINDOW_HOURS   hidden replies that flag an author [3 / 24]
    WITHYOU_REVIEW_THREAD_RETENTION_DAYS   `withyou review purge` deletes counts and author hashes older [7]
    WITHYOU_REVIEW_THREAD_STATUS_REFRESH_S   how often each worker re-reads the threads under attack [2]
    WITHYOU_REVIEW_WEBHOOK_URL / _WEBHOOK_SECRET   POST a signed event when a thread comes under attack [off]
    WITHYOU_REVIEW_WEBHOOK_ATTEMPTS / _WEBHOOK_BACKOFF_S / _WEBHOOK_TIMEOUT_S   [3 / 0.5 / 5]

Service levels and appeals (issue 21, review/sla.py and review/appeals.py):
    WITHYOU_REVIEW_SLA_THREAD_MINUTES / _SLA_DISCLOSURE_REPLY_MINUTES / _SLA_POST_MINUTES / _SLA_APPEAL_MINUTES
                                    an open item of that priority class older than this breaches its service
                                    level [30 / 120 / 1440 / 2880]
    WITHYOU_REVIEW_METRICS_REFRESH_S   how often the classifier service re-reads the queue's service levels and
                                    appeal rates for /metrics [30]
    WITHYOU_REVIEW_APPEAL_LABELS    JSON list: decided labels that keep a post hidden, so it can be appealed
                                    ["harassing"]

The names avoid the serving settings' own `WITHYOU_REVIEW_SINK/APP/ACTIONS/THRESHOLD/QUEUE_SIZE` (serving/config.py).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from withyou import paths
from withyou.bundle import BundleError
from withyou.labels import HARASSING, LABELS

ENV_PREFIX = "WITHYOU_REVIEW_"
SINK_REF = "review.sink:create_sink"
LABEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # fits models.LABEL_CHARS, a form field and a CSS class


class ReviewSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", hide_input_in_errors=True)  # keys stay out

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
    blur_harassing: bool = Field(True, description="blur harassing text until revealed (a reviewer may turn it off)")
    break_after: int = Field(10, ge=0, le=500, description="harassing items in a row before a break prompt; 0: never")

    author_key: SecretStr | None = Field(None, description="HMAC key (≥ 32 characters) for author ids; unset: dropped")
    pile_on_count: int = Field(5, ge=1, description="counted replies within the window that put a thread under attack")
    pile_on_window_minutes: int = Field(60, ge=1)
    pile_on_share: float = Field(0.3, gt=0.0, le=1.0, description="share of the last N replies that puts it under attack")
    pile_on_last: int = Field(20, ge=2)
    attack_hold_hours: int = Field(24, ge=1, description="under_attack in answers until the last counted reply is this old")
    repeat_author_hidden: int = Field(3, ge=1, description="hidden replies in the window that flag an author")
    repeat_author_window_hours: int = Field(24, ge=1)
    thread_retention_days: int = Field(7, ge=1, description="`withyou review purge` deletes thread counts older")
    thread_status_refresh_s: float = Field(2.0, gt=0.0, le=300.0)
    webhook_url: str | None = Field(None, pattern=r"^https?://", description="POST a signed event per thread under attack")
    webhook_secret: SecretStr | None = Field(None, description="HMAC key (≥ 16 characters) signing webhook bodies")
    webhook_attempts: int = Field(3, ge=1, le=10)
    webhook_backoff_s: float = Field(0.5, ge=0.0, le=30.0)
    webhook_timeout_s: float = Field(5.0, gt=0.0, le=60.0)

    sla_thread_minutes: int = Field(30, ge=1, description="service level of a thread under attack")
    sla_disclosure_reply_minutes: int = Field(120, ge=1, description="service level of a reply to a disclosure")
    sla_post_minutes: int = Field(1440, ge=1, description="service level of any other post")
    sla_appeal_minutes: int = Field(2880, ge=1, description="service level of an appeal")
    metrics_refresh_s: float = Field(30.0, gt=0.0, le=3600.0, description="how often /metrics' review gauges are re-read")
    appeal_labels: list[str] = Field(
        default_factory=lambda: [HARASSING], min_length=1, description="decided labels that hide a post (appealable)"
    )

    @model_validator(mode="after")
    def _threads_consistent(self) -> "ReviewSettings":
        for name, secret, shortest in (("AUTHOR_KEY", self.author_key, 32), ("WEBHOOK_SECRET", self.webhook_secret, 16)):
            if secret is not None and len(secret.get_secret_value()) < shortest:
                raise ValueError(f"WITHYOU_REVIEW_{name} must be at least {shortest} characters")
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("WITHYOU_REVIEW_WEBHOOK_URL needs WITHYOU_REVIEW_WEBHOOK_SECRET (the body is signed)")
        if not all(LABEL_NAME.match(name) for name in self.appeal_labels):
            raise ValueError("WITHYOU_REVIEW_APPEAL_LABELS must be a JSON list of label names")
        longest_hours = max(self.pile_on_window_minutes / 60, self.attack_hold_hours, self.repeat_author_window_hours)
        if self.thread_retention_days * 24 < longest_hours:
            raise ValueError(f"thread_retention_days ({self.thread_retention_days}) must cover the longest thread "
                             f"window ({longest_hours:g} hours)")  # fmt: skip
        return self

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
