"""The /classify request and response shapes (pydantic), with the limits from serving.config baked in.

The limits appear in the OpenAPI spec the server publishes at /docs.json, and a request that breaks one is
answered 400 with the field and the rule it broke (serving/guard.py turns BentoML's validation error into
one readable `error` line plus the `detail` list).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from serving.config import get_settings
from withyou.labels import Action, Label
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


ClassifyItems = Annotated[
    list[ClassifyItem],
    Field(max_length=_limits.max_items, description=f"0 to {_limits.max_items} items; results come back in order"),
]


class ClassifyResult(BaseModel):
    id: str | None = Field(description="the item's id, or null when it had none")
    label: Label = Field(description="the most probable label")
    scores: dict[Label, float] = Field(description="calibrated probability of each of the four labels (sum to 1)")
    action: Action = Field(description="allow / review / hide, from P(harassing) and the serving thresholds")
    model_version: str
