"""Fine-tune a BERT-style encoder (default: the packaged all-MiniLM-L6-v2) as the 4-label WithYou classifier.

Inputs are built by withyou.encoding.encode_batch (encode_posts + padding) with the base model's tokenizer.json —
the bundle reader (withyou/bundle.py, used by serving and evaluation) runs the same encode_posts on the same file —
so a reply is a (parent, reply) segment pair and training ids equal serving ids; the pad id is the model's own and
token_type_ids are fed only to a model that takes them (`model_input_names`, recorded in the bundle's `encoding`).
Each epoch draws a label- and source-balanced sample (TrainConfig.max_train_examples, training.dataset
.sampling_probabilities; the loss is class-weighted only with TrainConfig.class_weighting, off by default), and
training stops early when validation macro-F1 stops improving; the best epoch's weights are kept. The budget is
counted in examples and steps, never in seconds, so the same data and seed give the same model on any machine.
"""

from __future__ import annotations

import copy
import inspect
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from training.bases import packaged_base_dir
from training.config import ConfigError, TrainConfig
from training.dataset import label_ids, sample_indices, sampling_probabilities, weighted_sample
from withyou.encoding import POST_FIRST, encode_batch, load_tokenizer, pad_id_of, set_truncation
from withyou.labels import LABEL_TO_ID, LABELS
from withyou.records import Record

_LOCAL_PREFIXES = ("/", "./", "../", "~")


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    steps: int
    train_loss: float
    val_macro_f1: float
    examples_per_s: float
    seconds: float


@dataclass
class FitResult:
    model: torch.nn.Module
    tokenizer: Tokenizer
    base_model: str
    history: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0
    steps: int = 0
    train_seconds: float = 0.0
    train_examples_per_s: float = 0.0
    stopped_by: str = "epochs"
    """Why training ended: "epochs", "early_stopping" or "max_steps"."""


def resolve_base_model(ref: str) -> str:
    """A packaged base's directory for its name (training/bases.py: MiniLM, multilingual-e5-small), an existing
    local directory, or a Hugging Face id as given."""
    packaged = packaged_base_dir(ref)
    if packaged is not None:
        return str(packaged)
    path = Path(ref).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"base model directory {path} has no config.json (not a Hugging Face model directory)")
        return str(path)
    if ref.startswith(_LOCAL_PREFIXES) or ref.count("/") > 1:
        raise ConfigError(f"base model path {ref} does not exist")
    return ref


def load_base_model(
    ref: str, max_length: int, attention_dropout: float | None = None, hidden_dropout: float | None = None
) -> tuple[torch.nn.Module, Tokenizer]:
    """A fresh 4-label sequence classifier on top of `ref`, and its fast tokenizer as a `tokenizers.Tokenizer`.

    `attention_dropout` / `hidden_dropout` override the base model's dropout rates (None keeps them)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    source = resolve_base_model(ref)
    hf_logging.set_verbosity_error()  # "newly initialized classifier weights" is expected here, not news
    try:
        dropout = {key: value for key, value in (("attention_probs_dropout_prob", attention_dropout),
                                                 ("hidden_dropout_prob", hidden_dropout)) if value is not None}
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id=dict(LABEL_TO_ID),
            **dropout,
        )
        if Path(source, "tokenizer.json").is_file():
            tokenizer = load_tokenizer(Path(source, "tokenizer.json"), max_length)
        else:
            backend = AutoTokenizer.from_pretrained(source, use_fast=True).backend_tokenizer
            tokenizer = set_truncation(Tokenizer.from_str(backend.to_str()), max_length)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"could not load base model {ref!r}: {exc}") from None
    finally:
        hf_logging.set_verbosity_warning()
    return model, tokenizer


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def set_threads(num_threads: int | None) -> int:
    threads = num_threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads


def model_input_names(model: torch.nn.Module) -> tuple[str, ...]:
    """The inputs this model reads: input_ids and attention_mask, plus token_type_ids when its forward takes them
    and it has more than one token type (BERT; not RoBERTa-style models, whose single type embedding a pair's
    second-segment ids would overrun, nor DistilBERT, which has no such input). Export gives the ONNX graph
    exactly these inputs, and the bundle reader feeds what the graph has."""
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters
    types = getattr(getattr(model, "config", None), "type_vocab_size", 2)
    return ("input_ids", "attention_mask", "token_type_ids") if takes_types and types > 1 else ("input_ids", "attention_mask")


def model_pad_id(model: torch.nn.Module, tokenizer: Tokenizer) -> int:
    """The model's own pad id (config.pad_token_id: RoBERTa-style position ids depend on it), else the tokenizer's."""
    pad = getattr(getattr(model, "config", None), "pad_token_id", None)
    return int(pad) if pad is not None else pad_id_of(tokenizer)


def model_batch(
    model: torch.nn.Module, tokenizer: Tokenizer, texts: Sequence[str], parents: Sequence[str | None],
    normalize: bool = True, segments: str = POST_FIRST,
) -> dict[str, torch.Tensor]:
    """Encode posts as this model's input tensors (encode_batch with its pad id, only the inputs it takes)."""
    batch = encode_batch(tokenizer, texts, parents, pad_id=model_pad_id(model, tokenizer), normalize=normalize,
                         segments=segments)
    return {name: torch.from_numpy(getattr(batch, name)) for name in model_input_names(model)}


def length_bucketed_batches(
    records: Sequence[Record], order: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Batches of similar-length posts (less padding, ~2× faster on CPU) in random order.

    Sorting happens within windows of 50 batches, so each batch is still a random draw from the epoch sample.
    """
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        lengths = np.array([len(records[i].text) + len(records[i].parent_text or "") for i in chunk])
        chunk = chunk[np.argsort(lengths, kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module, tokenizer: Tokenizer, records: Sequence[Record], batch_size: int = 64
) -> np.ndarray:
    """Logits [n, labels] in the model's label order, batched by length for speed and returned in input order."""
    model.eval()
    out = np.zeros((len(records), model.config.num_labels), dtype=np.float32)
    lengths = np.array([len(r.text) + len(r.parent_text or "") for r in records])
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        inputs = model_batch(model, tokenizer, [records[i].text for i in idx], [records[i].parent_text for i in idx])
        out[idx] = model(**inputs).logits.float().numpy()
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(f1_score(y_true, y_pred, labels=list(range(len(LABELS))), average="macro", zero_division=0))


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-frequency weights (n / (k · count)); absent classes get weight 0."""
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (len(LABELS) * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def build_optimizer(model: torch.nn.Module, config: TrainConfig, total_steps: int):
    from transformers import get_linear_schedule_with_warmup

    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in trainable if not n.endswith(no_decay)], "weight_decay": config.weight_decay},
        {"params": [p for n, p in trainable if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    warmup = int(round(config.warmup_ratio * total_steps))
    return optimizer, get_linear_schedule_with_warmup(optimizer, warmup, total_steps)


def planned_steps(config: TrainConfig, n_train: int) -> int:
    per_epoch = -(-min(n_train, config.max_train_examples or n_train) // config.batch_size)
    total = per_epoch * config.epochs
    return min(total, config.max_steps) if config.max_steps else total


@dataclass
class _Optimisation:
    """What every training step needs besides the batch."""

    model: torch.nn.Module
    tokenizer: Tokenizer
    optimizer: torch.optim.Optimizer
    scheduler: object
    max_grad_norm: float


def train_epoch(
    opt: _Optimisation, train: Sequence[Record], labels: np.ndarray, batches: list[np.ndarray],
    loss_fn: torch.nn.Module, desc: str,
) -> tuple[int, int, float]:
    """One pass over `batches`; returns (steps, examples, mean loss)."""
    opt.model.train()
    started, seen, running, steps = time.perf_counter(), 0, 0.0, 0
    bar = tqdm(batches, desc=desc, unit="batch", leave=False, mininterval=1.0)
    for steps, idx in enumerate(bar, start=1):
        inputs = model_batch(opt.model, opt.tokenizer, [train[i].text for i in idx], [train[i].parent_text for i in idx])
        loss = loss_fn(opt.model(**inputs).logits, torch.from_numpy(labels[idx]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(opt.model.parameters(), opt.max_grad_norm)
        opt.optimizer.step()
        opt.scheduler.step()
        opt.optimizer.zero_grad(set_to_none=True)
        seen += len(idx)
        running += (loss.item() - running) / steps
        bar.set_postfix(loss=f"{running:.4f}", ex_s=f"{seen / max(time.perf_counter() - started, 1e-9):.1f}", refresh=False)
    bar.close()
    return steps, seen, running


def freeze_word_embeddings(model: torch.nn.Module) -> int:
    """Stop training the word-embedding matrix; returns how many parameters that takes out of each step.

    In MiniLM-L6 the 30,522 × 384 word embeddings are half the parameters, yet a batch touches a few hundred rows:
    their dense gradient, clipping and AdamW update are pure overhead on CPU, and the pretrained vectors are
    what a small fine-tuning set should not move anyway (tokens absent from it would drift from the rest).
    """
    weight = model.get_input_embeddings().weight
    weight.requires_grad_(False)
    return weight.numel()


def fit_transformer(
    config: TrainConfig,
    train: Sequence[Record],
    validation: Sequence[Record],
    *,
    sampling_multipliers: dict[str, dict[str, float]] | None = None,
    on_epoch_end: Callable[[EpochResult], None] | None = None,
) -> FitResult:
    """Fine-tune `config.base_model` on `train`, early-stopping on macro-F1 over (a sample of) `validation`.

    Each epoch is a fresh sample of `max_train_examples` drawn with training.dataset.sampling_probabilities
    (labels tempered by `label_temperature`, sources by `source_temperature`, scaled by
    `sampling_multipliers[source][label]`).
    """
    if not train or not validation:
        raise ValueError("fit_transformer needs at least one train and one validation record")
    set_threads(config.num_threads)
    rng = seed_everything(config.seed)
    model, tokenizer = load_base_model(config.base_model, config.max_length, config.attention_dropout,
                                       config.hidden_dropout)
    if not config.train_word_embeddings:
        freeze_word_embeddings(model)
    probabilities = sampling_probabilities(
        list(train), sampling_multipliers, config.source_temperature, config.label_temperature, config.tag_weights
    )
    train_labels = label_ids(list(train))
    val_idx = sample_indices(label_ids(list(validation)), config.max_eval_examples, np.random.default_rng(config.seed))
    val_records = [validation[i] for i in np.sort(val_idx)]
    total_steps = planned_steps(config, len(train))
    optimizer, scheduler = build_optimizer(model, config, total_steps)
    opt = _Optimisation(model, tokenizer, optimizer, scheduler, config.max_grad_norm)
    result = FitResult(model=model, tokenizer=tokenizer, base_model=config.base_model)
    best_f1, best_state, stale, seen = -1.0, None, 0, 0
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        order = weighted_sample(probabilities, config.max_train_examples, rng)
        loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(train_labels[order]) if config.class_weighting else None)
        batches = length_bucketed_batches(train, order, config.batch_size, rng)[: total_steps - result.steps]
        steps, epoch_seen, loss = train_epoch(
            opt, train, train_labels, batches, loss_fn, f"epoch {epoch}/{config.epochs}"
        )
        train_time = time.perf_counter() - epoch_start
        result.steps, result.train_seconds, seen = result.steps + steps, result.train_seconds + train_time, seen + epoch_seen
        score = macro_f1(label_ids(val_records), predict_logits(model, tokenizer, val_records, config.eval_batch_size).argmax(axis=1))
        epoch_result = EpochResult(
            epoch, result.steps, loss, score, epoch_seen / max(train_time, 1e-9), time.perf_counter() - epoch_start
        )
        result.history.append(epoch_result)
        tqdm.write(f"epoch {epoch}: loss {loss:.4f}  val macro-F1 {score:.4f}  {epoch_result.examples_per_s:.1f} ex/s")
        if on_epoch_end:
            on_epoch_end(epoch_result)
        if score > best_f1:
            best_f1, best_state, stale, result.best_epoch = score, copy.deepcopy(model.state_dict()), 0, epoch
        else:
            stale += 1
        result.stopped_by = stop_reason(config, epoch, stale, result.steps >= total_steps)
        if result.stopped_by != "epochs":
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.train_examples_per_s = seen / max(result.train_seconds, 1e-9)
    return result


def stop_reason(config: TrainConfig, epoch: int, stale: int, steps_done: bool) -> str:
    """"epochs" to go on (or when the last epoch ended normally), else why training stops now."""
    if stale >= config.patience:
        return "early_stopping"
    if steps_done and epoch < config.epochs:
        return "max_steps"
    return "epochs"


def save_checkpoint(result: FitResult, directory: Path) -> Path:
    """Hugging Face checkpoint + the exact tokenizer.json used, so `withyou export` can run again later."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result.model.save_pretrained(directory)
    result.tokenizer.save(str(directory / "tokenizer.json"))
    return directory


def load_checkpoint(directory: Path, max_length: int) -> tuple[torch.nn.Module, Tokenizer]:
    """A saved checkpoint and its tokenizer; its labels are its own (config.id2label), exported as they are."""
    from transformers import AutoModelForSequenceClassification

    directory = Path(directory)
    if not (directory / "config.json").is_file() or not (directory / "tokenizer.json").is_file():
        raise ConfigError(f"{directory} is not a checkpoint (needs config.json and tokenizer.json)")
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    return model, load_tokenizer(directory / "tokenizer.json", max_length)
