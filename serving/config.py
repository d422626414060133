"""Serving configuration: one typed settings object, read from `WITHYOU_*` environment variables.

`withyou serve --flag …` builds these settings from its flags and hands them to the BentoML worker processes as
environment variables (`ServingSettings.to_env`), so the service module reads exactly what the CLI resolved.
Defaults run on 2 CPU cores.

Limits and why they are what they are:
    max_items        256 items per request
    max_text_chars   5,000 characters per `text` and per `parent_text`; the model reads at most the head + tail
                     of a text (withyou.encoding.clip_text: first 1,500 and last 500 characters), so longer posts
                     are a client error rather than megabytes to tokenise
    max_body_bytes   16 MiB: room for 256 items whose text and parent are both 5,000 characters even when every
                     character is JSON-escaped (`\\uXXXX`, 6 bytes); anything larger is refused before parsing
    max_explain_items 16 items per request with `"explain": true`: an explanation costs one model run per word the
                     model reads (≤ ~130 for the default model, benchmarks/explain_load.py), so a request may ask
                     for few; `explain_runs_per_request` (1,024) caps a request's runs, shared by its items
    max_queued_items 640 items admitted per worker and not yet answered (admission control, serving/scheduler.py)
    max_queued_explain_runs 2,048 explanation runs, a separate pool: explanations never take plain items' room
"""

from __future__ import annotations

import json
import os
from functools import cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from withyou.explain import DEFAULT_RUN_BUDGET, MIN_RUN_BUDGET
from withyou.labels import Action
from withyou.policy import Thresholds
from withyou.registry import CHAMPION_REF

ENV_PREFIX = "WITHYOU_"


def available_cores() -> int:
    """CPU cores this process may run on (respects affinity/cgroup pinning, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class ServingSettings(BaseSettings):
    """Everything `withyou serve` can be told; each field is also `WITHYOU_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    bundle: str = Field(CHAMPION_REF, description="bundle reference: a directory, models:/withyou@champion, runs:/…, champion (withyou/registry.py)")
    allow_unverified_bundle: bool = Field(
        False, description="serve a bundle that records no file checksums (metadata.json `files`): its files unverified"
    )
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)

    review_threshold: float | None = Field(None, ge=0.0, le=1.0, description="override the bundle's review threshold")
    hide_threshold: float | None = Field(None, ge=0.0, le=1.0, description="override the bundle's hide threshold")

    api_key: SecretStr | None = Field(None, description="when set, /classify needs `Authorization: Bearer <key>` or `X-API-Key`")
    metrics_token: SecretStr | None = Field(None, description="when set, /metrics needs `Authorization: Bearer <token>`")

    max_items: int = Field(256, ge=1)
    max_text_chars: int = Field(5000, ge=1)
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    max_explain_items: int = Field(16, ge=0, description="most items per request that may ask for an explanation")
    explain_runs_per_item: int = Field(
        DEFAULT_RUN_BUDGET,
        ge=MIN_RUN_BUDGET,
        description="model runs one explained item may cost; a longer post gets its most influential passages "
        "explained, and the answer says so",
    )
    explain_runs_per_request: int = Field(
        1024,
        ge=MIN_RUN_BUDGET,
        description="model runs one request's explanations may cost together, shared among its explained items "
        "(each gets at most explain_runs_per_item); about 15 s of one worker on 2 cores",
    )
    max_queued_explain_runs: int = Field(
        2048,
        ge=1,
        description="explanation model runs admitted and not yet answered per worker, apart from plain items "
        "(default: two worst-case explain requests)",
    )
    explain_client_share: float = Field(
        0.5, gt=0.0, le=1.0, description="most of max_queued_explain_runs one client may hold while it has work queued"
    )

    workers: int = Field(1, ge=1, description="BentoML worker processes, each with its own model copy")
    ort_threads: int | None = Field(None, ge=1, description="onnxruntime intra-op threads per worker (default: cores / workers)")
    max_batch_size: int = Field(
        16, ge=1, description="most items per model call; a small request waits for at most one such call"
    )
    max_queued_items: int = Field(
        640,
        ge=1,
        description="items admitted and not yet answered per worker; a request past it gets 429 + Retry-After "
        "(default: two maximum-size requests plus 128 items of room for small ones)",
    )
    body_idle_timeout_s: float = Field(5.0, gt=0, description="a request body that stops arriving this long gets 408")
    request_timeout_s: float = Field(60.0, gt=0)

    log_level: str = Field("INFO", pattern="(?i)^(debug|info|warning|error)$")

    review_actions: frozenset[Action] = frozenset({"review", "hide"})
    review_sink: str | None = Field(None, description="'module:factory' returning a serving.hooks.ReviewSink")
    review_app: str | None = Field(
        "review.app:serving_mount",
        description="'module:factory' returning the serving.hooks.ReviewerMount mounted at /review (empty: none)",
    )
    review_queue_size: int = Field(10_000, ge=1)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> "ServingSettings":
        if self.review_threshold is not None and self.hide_threshold is not None:
            if self.review_threshold > self.hide_threshold:
                raise ValueError(f"review threshold {self.review_threshold} is above hide threshold {self.hide_threshold}")
        return self

    def threads_per_worker(self) -> int:
        return self.ort_threads or max(1, available_cores() // self.workers)

    def thresholds(self, bundle_thresholds: Thresholds) -> Thresholds:
        """The bundle's thresholds with any configured override applied (validated again: review ≤ hide)."""
        override = {
            key: value
            for key, value in (("review", self.review_threshold), ("hide", self.hide_threshold))
            if value is not None
        }
        if not override:
            return bundle_thresholds
        merged = bundle_thresholds.model_dump() | override | {"source": "config"}
        return Thresholds.model_validate(merged)

    def unverified_refusal(self, bundle_dir: object, checksums_verified: bool) -> str | None:
        """Why a bundle without file checksums may not be served (None when it has them or it is allowed)."""
        if checksums_verified or self.allow_unverified_bundle:
            return None
        return (f"bundle {bundle_dir} records no file checksums (metadata.json `files`), so its files cannot be "
                "verified; re-export it, or pass --allow-unverified-bundle (WITHYOU_ALLOW_UNVERIFIED_BUNDLE=true) "
                "to serve it anyway")

    def to_env(self) -> dict[str, str]:
        """These settings as `WITHYOU_*` variables, to hand to the server's worker processes."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, (set, frozenset)):
                value = json.dumps(sorted(value))
            env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return env

    def safe_summary(self) -> dict[str, object]:
        """The resolved settings for logs: the API key and the metrics token are reported as set or not, never shown."""
        summary = self.model_dump(exclude={"api_key", "metrics_token"})
        summary["api_key"] = "set" if self.api_key else "off"
        summary["metrics_token"] = "set" if self.metrics_token else "off"
        summary["review_actions"] = sorted(self.review_actions)
        return summary


@cache
def get_settings() -> ServingSettings:
    """The process-wide settings, read once from the environment."""
    return ServingSettings()

