"""A bundle whose answers are known in advance: P(harassing) ≈ 0.98 when a post holds an abuse word, else ≈ 0.002.

Its model is a hand-written ONNX graph over a word-level tokenizer: each word's weight (1 for the words in
`ABUSE_WORDS`, 0 for any other, which is [UNK]) is looked up, the largest one over the post is `s`, and the
logits are 0 for every label except harassing, 10·s − 5. Its tokenizer reads NFKC-folded, lower-cased text with
Cyrillic/Greek look-alikes as Latin (withyou.confusables), so it stands for a model that sees through disguised
letters; with the bundle's text normalisation (withyou.encoding.normalize_text) it also reads leet inside words
and text with invisible characters. What is left to test with it is the policy around the model: language
detection, the unsupported-language rule, mixed-language posts. A real bundle of the same files: integrity
checks, checksums and all.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from withyou.confusables import LOOKALIKES
from withyou.encoding import NORMALIZATION, EncodingSpec
from withyou.integrity import record_checksums
from withyou.labels import HARASSING, LABELS

ABUSE_WORDS = ("slut", "whore", "liar")
HIDE = 0.9
REVIEW = 0.5


def keyword_tokenizer() -> Tokenizer:
    vocab = {"[PAD]": 0, "[UNK]": 1, **{word: index + 2 for index, word in enumerate(ABUSE_WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    lookalikes = [normalizers.Replace(chr(source), chr(target)) for source, target in LOOKALIKES.items()]
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), *lookalikes, normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def keyword_graph(vocab_size: int):
    """logits[n, labels] = s[n] · w + b, s[n] = max over the post's real tokens of weight[token]."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.zeros(vocab_size, dtype=np.float32)
    weights[2 : 2 + len(ABUSE_WORDS)] = 1.0
    scale, bias = np.zeros((1, len(LABELS)), np.float32), np.zeros((1, len(LABELS)), np.float32)
    scale[0, LABELS.index(HARASSING)], bias[0, LABELS.index(HARASSING)] = 10.0, -5.0
    nodes = [
        helper.make_node("Gather", ["word_weights", "input_ids"], ["hits"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hits", "mask"], ["real_hits"]),
        helper.make_node("ReduceMax", ["real_hits"], ["s"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["s", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "keyword",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
         for name in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        [numpy_helper.from_array(weights, "word_weights"), numpy_helper.from_array(scale, "scale"),
         numpy_helper.from_array(bias, "bias")],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def write_keyword_bundle(out_dir: Path, languages: tuple[str, ...] = ("en",)) -> Path:
    """Write the bundle into `out_dir` (created) and return it; thresholds review 0.5, hide 0.9."""
    import onnx

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True)
    tokenizer = keyword_tokenizer()
    tokenizer.save(str(out_dir / "tokenizer.json"))
    onnx.save(keyword_graph(tokenizer.get_vocab_size()), str(out_dir / "model.onnx"))
    encoding = EncodingSpec(max_length=64, pad_id=0, token_type_ids=False)
    files = {
        "labels.json": list(LABELS),
        "thresholds.json": {"review": REVIEW, "hide": HIDE, "source": "test"},
        "calibration.json": {"temperature": 1.0},
        "metadata.json": {"model_version": "keyword-test", "labels": list(LABELS), "encoding": encoding.to_json(),
                          "text_normalization": NORMALIZATION, "languages": list(languages)},
    }  # fmt: skip
    for name, payload in files.items():
        (out_dir / name).write_text(json.dumps(payload), encoding="utf-8")
    record_checksums(out_dir)
    return out_dir
