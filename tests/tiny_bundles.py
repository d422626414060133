"""Tiny randomly initialised models of several architectures, exported to bundles by training's own code.

They are built locally (no hub access): a few-hundred-token tokenizer trained with the `tokenizers` library on the
handwritten sentences below, and a 2-layer, 32-wide transformer. Their answers mean nothing; they prove that the
bundle carries every assumption of the model (labels, pad id, token_type_ids, pairs) and give the corrupted-bundle
tests a bundle that copies in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from withyou.labels import LABELS
from withyou.records import Record

SENTENCES = [
    "me too. my manager, 2019. never told anyone",
    "thank you for telling us, we believe you",
    "you are lying for attention, nobody believes you",
    "the meeting moved to thursday afternoon",
    "has this ever happened to you at work?",
    "it was not your fault and you are not alone",
    "sure you were, stop making things up",
    "the train was late again this morning",
]
ARCHITECTURES = ("bert", "roberta", "distilbert")


def tiny_tokenizer(kind: str) -> Tokenizer:
    """BERT: WordPiece with [PAD]=0 and segment ids; RoBERTa/DistilBERT-style: byte-level BPE with <s>=0, <pad>=1."""
    if kind == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.train_from_iterator(SENTENCES * 4, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
        return tokenizer
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        SENTENCES * 4,
        trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return tokenizer


def tiny_model(kind: str, labels: tuple[str, ...] = LABELS, seed: int = 0):
    """A random 2-layer classifier of architecture `kind` with `labels`, and its tokenizer."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(kind)
    heads = dict(num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    vocab = tokenizer.get_vocab_size()
    if kind == "bert":
        config = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=64, pad_token_id=0, **heads)
        model = BertForSequenceClassification(config)
    elif kind == "roberta":
        config = RobertaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=66, type_vocab_size=1, pad_token_id=1,
                               bos_token_id=0, eos_token_id=2, **heads)
        model = RobertaForSequenceClassification(config)
    elif kind == "distilbert":
        config = DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                  max_position_embeddings=64, pad_token_id=1, **heads)
        model = DistilBertForSequenceClassification(config)
    else:
        raise ValueError(f"unknown architecture {kind!r}; one of {ARCHITECTURES}")
    return model.eval(), tokenizer


def parity_records() -> list[Record]:
    """Posts and replies for the export's parity check (labels are irrelevant to parity)."""
    return [
        Record(id=f"tiny-{i}", text=text, parent_text=SENTENCES[(i + 4) % len(SENTENCES)] if i % 2 else None,
               label=LABELS[i % len(LABELS)], source="seed", split="validation")
        for i, text in enumerate(SENTENCES)
    ]


def export_tiny(kind: str, out_dir: Path, labels: tuple[str, ...] = LABELS, **options) -> Path:
    """Export a tiny random model with training/export.py (max_length 48, parity on `parity_records`)."""
    import warnings

    from training.export import export_bundle

    model, tokenizer = tiny_model(kind, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights: int8 may miss the rule and ship fp32, which is fine here
        export_bundle(model, tokenizer, out_dir, max_length=48, parity_records=parity_records(),
                      metadata={"model_version": f"tiny-{kind}"}, **options)
    return Path(out_dir)
