"""The /classify request and response shapes (pydantic), with the limits from serving.config baked in.

The limits appear in the OpenAPI spec the server publishes at /docs.json, and a request that breaks one is
answered 400 with the field and the rule it broke (serving/guard.py turns BentoML's validation error into
one readable `error` line plus the `detail` list).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from serving.config import get_settings
from withyou.explain import Explanation
from withyou.labels import Action
from withyou.language import HINDI_LATIN, SERVED_PART_REASON, UNDETERMINED, UNSUPPORTED_REASON
from withyou.records import ParentText, PostText

_limits = get_settings()


class ClassifyItem(BaseModel):
    """One post to classify; `parent_text` is the post it replies to, when it is a reply."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(None, max_length=256, description="caller's id, echoed back in the result")
    text: PostText = Field(
        max_length=_limits.max_text_chars,
        description=f"the post, 1 to {_limits.max_text_chars} characters, not only whitespace; "
        "the model reads its first 1,500 and last 500 characters",
    )
    parent_text: ParentText = Field(
        None, max_length=_limits.max_text_chars, description="the post this one replies to, if any"
    )
    thread_id: str | None = Field(
        None, min_length=1, max_length=256,
        description="id of the thread's root post (the disclosure) this post belongs to; counts it for pile-on "
        "detection when the review sink is on (review/README.md)",
    )  # fmt: skip
    author_id: str | None = Field(
        None, min_length=1, max_length=256,
        description="the platform's opaque id of the post's author; the review store keeps only its keyed hash "
        "(HMAC), never the value, and no log carries it",
    )  # fmt: skip
    explain: bool = Field(
        False,
        description=f"also return the spans that drove the answer (withyou/explain.py); at most "
        f"{_limits.max_explain_items} items per request; a top-level \"explain\": true sets it on every item",
    )


def _explain_cap(items: list[ClassifyItem]) -> list[ClassifyItem]:
    asked = sum(item.explain for item in items)
    if asked > _limits.max_explain_items:
        raise ValueError(f"{asked} items ask for an explanation; at most {_limits.max_explain_items} per request")
    return items


ClassifyItems = Annotated[
    list[ClassifyItem],
    Field(max_length=_limits.max_items, description=f"0 to {_limits.max_items} items; results come back in order"),
    AfterValidator(_explain_cap),
]


class ClassifyResult(BaseModel):
    id: str | None = Field(description="the item's id, or null when it had none")
    label: str = Field(description="the most probable of the served bundle's labels (its labels.json)")
    scores: dict[str, float] = Field(
        description="calibrated probability of each of the served bundle's labels, in the bundle's order (sum to 1)"
    )
    action: Action = Field(description="allow / review / hide, from P(harassing) and the serving thresholds")
    model_version: str
    lang: str = Field(
        UNDETERMINED, description=f'detected language of `text`: an ISO 639-1 code, "{HINDI_LATIN}" (Hindi in Latin '
        f'letters, Hinglish included), or "{UNDETERMINED}" when it has no letters or no linguistic content'
    )
    lang_confidence: float = Field(0.0, description="the language detector's probability for `lang` (0–1)")
    reason: str | None = Field(
        None, description=f'why the action differs from the thresholds\' one: "{UNSUPPORTED_REASON}" (never hidden), '
        f'or "{SERVED_PART_REASON}"'
    )
    stage: Literal["linear", "blend", "transformer"] = Field(
        "transformer", description='which stage of the bundle decided: "linear" (the cascade: the linear stage found '
        'the post clearly benign and answered alone, action allow), "blend" (the transformer and the linear stage '
        'together), or "transformer" (a bundle without a linear stage, or a post in a language it does not read)',
    )
    explanation: Explanation | None = Field(
        None, description="spans (code-point offsets into text / parent_text) when the item asked to be explained"
    )
    thread_status: Literal["under_attack"] | None = Field(
        None, description='"under_attack" when the item\'s `thread_id` names a thread the review store found under '
        "a pile-on (read from a cache refreshed every few seconds: the replies that tip it may not carry it yet)",
    )
