"""`withyou retrain`, the happy path end to end (issue 20): reviewer decisions in the queue → export → a build with
the reviews → train → gate → promote → the new champion serves the reviewed label.

An honest small world, not the --fast preset (a --fast model is never champion):
- the corpus is a slice of the shipped seed corpus (`write_world`), built seed-only: no real-text benchmarks, so
  the floor's baseline half is not checked; its canonical disclosures are, for both models;
- the base model is a tiny BERT (2 layers, 64 wide, a WordPiece vocabulary counted on the world), fine-tuned from
  random weights for about 300 steps with `RECIPE` (one torch thread: on a shared machine more are slower), and
  the bundle is whatever training makes of it (today: that transformer blended with the linear stage);
- the first champion and the challenger come from the same lifecycle (orchestration/lifecycle.py) and the same
  recipe, so the gate compares like with like: the challenger differs only by the reviewed rows.
Measured: both models label none of the 84 canonical disclosures harassing (the highest P(harassing) among those
misread is 0.06) and the challenger is at least as good as the champion on every gated number; a smaller world
(70 rows per label and file, 4 epochs) gives a first champion that the floor refuses (1 of 84 harassing). About
100 s of CPU, 2.5 min on the shared 2-core machine.
The traffic is written for this test (never in the seed corpus), labelled by datasets/LABELS.md; it reaches the
queue the way /classify hands it over (the champion's answers, through the review sink), and a reviewer decides
every item by the guide — so each item the champion got wrong is a correction.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.tampering import use_temporary_registry
from tests.training.conftest import invoke
from withyou import paths
from withyou.labels import LABELS
from withyou.paths import SEED_DIR
from withyou.records import Record, read_jsonl, write_jsonl

pytestmark = pytest.mark.slow

PER_LABEL_AND_FILE = 100
"""Rows of each label taken from each seed file (evenly spaced): about 2,100 rows, 1,670 of them for training."""
VOCAB_SIZE = 3000
RECIPE = {"max_length": 64, "batch_size": 32, "epochs": 6, "patience": 6, "learning_rate": 2e-3,
          "warmup_ratio": 0.1, "train_word_embeddings": True, "num_threads": 1}  # fmt: skip
REVIEWER = "alice"
DISCLOSURE = "my driving instructor kept putting his hand on my knee and I was too scared to say anything"
PIZZA = "honestly I could eat pizza every single day"
TRAFFIC = [  # (id, text, parent_text, label by datasets/LABELS.md), written for this test
    ("t-grifter", "zero chance, grifter. go farm sympathy somewhere else", DISCLOSURE, "harassing"),
    ("t-pizza", "me too", PIZZA, "neutral"),
    ("t-witness", "saw a bouncer drag a drunk girl into the back office friday and nobody stopped him", None,
     "disclosure"),
    ("t-hotline", "the campus advocacy office does free confidential walk-ins on tuesdays if that helps",
     DISCLOSURE, "supportive"),
    ("t-obfusc", "n0b0dy b3li3v3s y0u, cl0ut ch4s3r", DISCLOSURE, "harassing"),
    ("t-verdict", "jury returned a guilty verdict on two of the four counts this afternoon", None, "neutral"),
    ("t-counter", "anyone calling her a liar for telling this should be ashamed. I believe you", DISCLOSURE,
     "supportive"),
    ("t-negated", "you are not a liar and none of this was your fault", DISCLOSURE, "supportive"),
    ("t-sarcasm", "riiight, and then you woke up", DISCLOSURE, "harassing"),
    ("t-blame", "why did you keep booking lessons with him then", DISCLOSURE, "harassing"),
    ("t-me-too", "me too, a swimming coach when I was twelve", DISCLOSURE, "disclosure"),
    ("t-news", "the council voted to extend the night bus route to the hospital", None, "neutral"),
]  # fmt: skip
ESCALATED = ("t-unsure", "ok but what was he actually doing with his hand", DISCLOSURE)


def write_world(directory: Path) -> Path:
    """A seed folder holding an evenly spaced slice of every shipped seed file, per label."""
    rows: list[Record] = []
    for path in sorted(SEED_DIR.glob("*.jsonl")):
        by_label: dict[str, list[Record]] = {}
        for record in read_jsonl(path, strict=False):
            by_label.setdefault(record.label, []).append(record)
        for records in by_label.values():
            rows += records[:: max(1, len(records) // PER_LABEL_AND_FILE)][:PER_LABEL_AND_FILE]
    directory.mkdir(parents=True)
    write_jsonl(directory / "world.jsonl", rows)
    return directory


def write_tiny_base(directory: Path, world: Path) -> Path:
    """A randomly initialised 2-layer BERT with a WordPiece vocabulary learnt on the world: a local base model."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification

    texts = [value for r in read_jsonl(world / "world.jsonl") for value in (r.text, r.parent_text) if value]
    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    # The vocabulary is counted here, not learnt by tokenizers' WordPieceTrainer: that trainer breaks frequency
    # ties in hash-map order, so five runs on the same texts gave five vocabularies — and this test a model that
    # sometimes sat on the other side of the floor. Every character (alone and as a ## continuation), then the
    # most frequent words, ties broken alphabetically: the same vocabulary on every run.
    counts = Counter(word for text in texts for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    characters = sorted({character for word in counts for character in word})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters, *(f"##{c}" for c in characters)]
    frequent = [word for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if word not in characters]
    tokens += frequent[: max(0, VOCAB_SIZE - len(tokens))]
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(tokens)}, unk_token="[UNK]"))
    tokenizer.normalizer, tokenizer.pre_tokenizer = normalizer, pre_tokenizer
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=128, max_position_embeddings=128, pad_token_id=0,
                        num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
                        label2id={label: i for i, label in enumerate(LABELS)})  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save(str(directory / "tokenizer.json"))
    return directory


def registry():
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=paths.mlflow_tracking_uri())


def champion_version() -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(registry().get_model_version_by_alias("withyou", "champion").version)
    except MlflowException:
        return None


def queue_traffic(classifier) -> dict[str, int]:
    """The champion's answers for TRAFFIC (+ ESCALATED) handed to the review sink as /classify hands them over;
    returns the queue item id of each traffic id."""
    from review.sink import StoreSink
    from review.store import ReviewStore
    from serving.hooks import ReviewCandidate, now_utc
    from withyou.bundle import Item

    posts = [(i, text, parent) for i, text, parent, _ in TRAFFIC] + [ESCALATED]
    predictions = classifier.predict([Item(text=text, parent_text=parent, id=i) for i, text, parent in posts])
    sink = StoreSink.from_settings(classifier)
    for (i, text, parent), p in zip(posts, predictions):
        sink.enqueue(ReviewCandidate(id=i, text=text, parent_text=parent, label=p.label, scores=p.scores,
                                     action=p.action, model_version=classifier.model_version,
                                     classified_at=now_utc()))  # fmt: skip
    return {item["external_id"]: item["id"] for item in ReviewStore.from_settings().queue(limit=100)}


def decide_by_the_guide(queued: dict[str, int]) -> dict[str, str]:
    """The reviewer claims and decides every traffic item with its guide label and escalates ESCALATED; returns
    the corrections (traffic id → reviewed label, where the champion's label differed)."""
    from review.store import ReviewStore

    store = ReviewStore.from_settings()
    model_label = {item["external_id"]: item["label"] for item in store.queue(limit=100)}
    for traffic_id, _, _, label in TRAFFIC:
        store.claim(queued[traffic_id], REVIEWER)
        store.decide(queued[traffic_id], REVIEWER, label)
    store.decide(queued[ESCALATED[0]], REVIEWER, "escalate")
    corrected = {i: label for i, _, _, label in TRAFFIC if model_label[i] != label}
    assert corrected, f"the champion labelled all the traffic right ({model_label}): no decision changes a label"
    return corrected


def served_labels(directory: Path) -> dict[str, dict]:
    """TRAFFIC scored by `withyou score` with the champion (its default model): id → answer."""
    posts, scored = directory / "posts.jsonl", directory / "scored.jsonl"
    posts.write_text("".join(json.dumps({"id": i, "text": text, "parent_text": parent}) + "\n"
                             for i, text, parent, _ in TRAFFIC), encoding="utf-8")  # fmt: skip
    result = invoke(["score", str(posts), "-o", str(scored)])
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in map(json.loads, scored.read_text(encoding="utf-8").splitlines())}


def test_retrain_turns_reviewer_decisions_into_the_champion_that_serves_them(tmp_path: Path, monkeypatch):
    from orchestration.lifecycle import LifecycleConfig, run_lifecycle
    from orchestration.retrain import RetrainConfig, run_retrain
    from withyou.bundle import Classifier
    from withyou.registry import resolve_bundle

    use_temporary_registry(tmp_path, monkeypatch)
    for name, value in {"WITHYOU_REVIEW_DB": tmp_path / "review.db", "WITHYOU_DATA_DIR": tmp_path / "no-public-data",
                        "WITHYOU_BUNDLE": ""}.items():  # fmt: skip
        monkeypatch.setenv(name, str(value))
    world = write_world(tmp_path / "seed")
    recipe = {**RECIPE, "base_model": str(write_tiny_base(tmp_path / "base", world))}

    def lifecycle() -> LifecycleConfig:
        return LifecycleConfig(seed_dir=world, include_public=False, train_overrides=dict(recipe))

    # the first champion: `withyou up`'s lifecycle on the world (floor checked, nothing to gate against)
    first = run_lifecycle(lifecycle(), echo=print)
    assert first.promoted, first.notes
    assert champion_version() == first.registered_version == "1"

    # traffic reaches the queue; the reviewer decides every item by the label guide
    queued = queue_traffic(Classifier.from_bundle(resolve_bundle("champion")))
    corrected = decide_by_the_guide(queued)

    # the retrain job: export → build with the reviews → train → evaluate + gate → promote
    outcome = run_retrain(RetrainConfig(lifecycle=lifecycle()), echo=print)

    artifacts = tmp_path / "artifacts"
    exported = {r.id: r for r in read_jsonl(artifacts / "review" / "exports" / "reviewed.jsonl")}
    review_id = {traffic_id: f"review-{queued[traffic_id]}" for traffic_id, *_ in TRAFFIC}
    assert set(exported) == set(review_id.values()), "decided items only: the escalated one stays out"
    for traffic_id, text, parent, label in TRAFFIC:
        record = exported[review_id[traffic_id]]
        assert (record.text, record.parent_text, record.label, record.source) == (text, parent, label, "review")
        assert record.tags == ("review:corrected" if traffic_id in corrected else "review:confirmed",)
    assert outcome.review_rows == len(TRAFFIC)
    built = {r.id: r for split in ("train", "validation", "test")
             for r in read_jsonl(artifacts / "dataset" / f"{split}.jsonl")}  # fmt: skip
    for traffic_id, _, _, label in TRAFFIC:  # the reviewed label is what the challenger learnt from
        assert (built[review_id[traffic_id]].label, built[review_id[traffic_id]].split) == (label, "train")
    assert outcome.dataset["extra"]["added"] == {"train": len(TRAFFIC)}

    assert outcome.exit_code == 0, outcome.notes
    assert outcome.registered_version == "2" and outcome.model_version != first.model_version
    assert outcome.gate["passed"], outcome.gate
    assert outcome.gate["champion"]["model_version"].startswith(first.model_version)
    assert outcome.promoted and "promoted withyou version 2 to champion (was version 1)" in outcome.notes
    assert champion_version() == "2"
    report = json.loads(outcome.report_path.read_text(encoding="utf-8"))
    assert report["promoted"] is True and report["review_rows"] == len(TRAFFIC)
    tags = registry().get_run(registry().get_model_version("withyou", "2").run_id).data.tags
    assert (tags["trigger"], tags["retrain.review_rows"], tags["retrain.promoted"]) == ("retrain", "12", "True")

    # the new champion serves with the reviewed labels applied
    answers = served_labels(tmp_path)
    assert {answer["model_version"] for answer in answers.values()} == {outcome.model_version}
    assert {i: answers[i]["label"] for i in corrected} == corrected, answers
