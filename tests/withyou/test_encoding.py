"""Encoding rules shared by training and serving: clipping, segment pairs, length-bucketed batches."""

from __future__ import annotations

import numpy as np
import pytest

from pathlib import Path

from withyou.encoding import NORMALIZATION, clip_text, encode_posts, length_batches, normalize_text


def test_clip_text_keeps_head_and_tail_of_long_text():
    text = "a" * 3000 + "END"
    clipped = clip_text(text, head=10, tail=5)
    assert clipped.startswith("a" * 10) and clipped.endswith("aaEND")
    assert len(clipped) < 30
    assert clip_text("short", head=10, tail=5) == "short"


@pytest.mark.parametrize("max_items,max_tokens", [(1, 10_000), (4, 10_000), (64, 100), (3, 7)])
def test_length_batches_cover_every_post_once_within_limits(max_items, max_tokens):
    lengths = np.random.default_rng(0).integers(1, 130, size=97)
    batches = length_batches(lengths.tolist(), max_items, max_tokens)
    positions = np.concatenate(batches)
    assert sorted(positions.tolist()) == list(range(len(lengths)))
    for batch in batches:
        widest = lengths[batch].max()
        assert len(batch) <= max_items
        assert len(batch) == 1 or len(batch) * widest <= max_tokens  # one over-long post may stand alone
    widths = [lengths[b].max() for b in batches]
    assert widths == sorted(widths)  # similar lengths together: batches grow in width


def test_length_batches_of_nothing_is_empty():
    assert length_batches([], 8, 100) == []


@pytest.mark.parametrize(
    "noisy,clean",
    [
        ("<img src=x onerror=alert(1)> shut up liar, you wanted it", "shut up liar, you wanted it"),
        ("<script>alert('x')</script><b>liar</b>", "liar"),
        ("a t t e n t i o n  w h o r e", "attention whore"),
        ("l1ar l1ar, you b!tch", "liar liar, you bitch"),
        ("you&#39;re lying", "you're lying"),
        ("see https://example.com/x?y=1 and www.example.org", "see [url] and [url]"),
        ("[USER] @jane_doe u/someone hi", "@user @user @user hi"),
        ("sure\u200b you\u200d were", "sure you were"),
        ("riiiiiiight", "riiight"),
        ("See [this post](https://example.com/a) now", "See this post [url] now"),
    ],
)
def test_normalize_text_removes_wrapping_and_obfuscation(noisy, clean):
    assert normalize_text(noisy) == clean


@pytest.mark.parametrize("text", ["me too", "I <3 this", "2019, 3pm, platform 4", "women deserve equal pay"])
def test_normalize_text_leaves_plain_posts_alone(text):
    assert normalize_text(text) == text


def test_a_post_that_is_only_markup_keeps_its_text():
    assert normalize_text("<br>") == "<br>"


def test_training_and_serving_encode_the_same_ids(tiny_bundle):
    """Training batches (encode_batch) and the served Classifier (encode_posts) read the same normalised ids."""
    from withyou.bundle import Classifier
    from withyou.encoding import encode_batch

    classifier = Classifier.from_bundle(tiny_bundle)
    classifier.normalize = True  # as a bundle trained by `withyou train` is served
    texts = ["<b>sure</b> you were @someone https://x.co/a", "l i a r"]
    parents = ["me too. my manager, 2019.", None]
    served = encode_posts(classifier.tokenizer, texts, parents, classifier.normalize)
    trained = encode_batch(classifier.tokenizer, texts, parents)
    for row, encoding in enumerate(served):
        assert trained.input_ids[row, : len(encoding.ids)].tolist() == encoding.ids
    assert served[0].ids == encode_posts(classifier.tokenizer, ["sure you were @user [url]"], [parents[0]])[0].ids


def test_bundle_records_and_applies_its_normalisation(tiny_bundle, tmp_path):
    import json
    import shutil

    from withyou.bundle import BundleError, Classifier

    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    meta = json.loads((bundle / "metadata.json").read_text())
    assert meta["text_normalization"] == NORMALIZATION
    noisy, clean = ["<i>you</i> l1ar"], ["you liar"]
    normalised = Classifier.from_bundle(bundle)
    assert np.allclose(normalised.logits(noisy), normalised.logits(clean))
    (bundle / "metadata.json").write_text(json.dumps({**meta, "text_normalization": None}))
    raw = Classifier.from_bundle(bundle)
    assert not np.allclose(raw.logits(noisy), raw.logits(clean))
    (bundle / "metadata.json").write_text(json.dumps({**meta, "text_normalization": "some-future-v9"}))
    with pytest.raises(BundleError, match="text_normalization"):
        Classifier.from_bundle(bundle)


def test_pad_id_comes_from_the_tokenizer_not_a_bert_assumption():
    """RoBERTa-style vocabularies pad with <pad> (id 1, while id 0 is <s>); the old code returned 0 for them."""
    from tests.tiny_bundles import tiny_tokenizer
    from withyou.encoding import pad_id_of

    roberta = tiny_tokenizer("roberta")
    assert pad_id_of(roberta) == roberta.token_to_id("<pad>") == 1
    assert pad_id_of(tiny_tokenizer("bert")) == 0
    roberta.enable_padding(pad_id=4, pad_token="<mask>")  # an explicit padding setting wins
    assert pad_id_of(roberta) == 4


def test_truncation_is_set_up_in_one_place():
    from tests.tiny_bundles import tiny_tokenizer
    from withyou.encoding import TRUNCATION, set_truncation

    tokenizer = set_truncation(tiny_tokenizer("bert"), 12)
    assert tokenizer.truncation["max_length"] == 12 and tokenizer.truncation["strategy"] == TRUNCATION
    assert tokenizer.padding is None
    assert len(tokenizer.encode("word " * 50, "other " * 50).ids) == 12


def test_single_segment_encoding_reads_the_post_alone():
    from tests.tiny_bundles import tiny_tokenizer
    from withyou.encoding import EncodingSpec

    tokenizer = tiny_tokenizer("bert")
    single = encode_posts(tokenizer, ["sure you were"], ["me too"], spec=EncodingSpec(pair=False))
    assert single[0].ids == encode_posts(tokenizer, ["sure you were"])[0].ids
    assert encode_posts(tokenizer, ["sure you were"], ["me too"])[0].ids != single[0].ids


def test_the_judged_post_is_segment_a_so_a_top_level_post_sits_where_replies_do():
    """Issue 18: with the parent first, a top-level "Me too." (one segment: segment A) sat in the parents' position."""
    from tests.tiny_bundles import tiny_tokenizer
    from withyou.encoding import PARENT_FIRST, EncodingSpec

    tokenizer = tiny_tokenizer("bert")
    alone = encode_posts(tokenizer, ["me too"])[0]
    (reply,) = encode_posts(tokenizer, ["me too"], ["has this happened to you"])
    assert reply.ids[: len(alone.ids) - 1] == alone.ids[:-1]  # [CLS] me too — then [SEP], the parent
    assert [t for t, s in zip(reply.type_ids, reply.sequence_ids) if s == 0] == [0] * (len(alone.ids) - 2)
    (old,) = encode_posts(tokenizer, ["me too"], ["has this happened to you"], spec=EncodingSpec(segments=PARENT_FIRST))
    assert old.ids[1 : 1 + len(alone.ids) - 2] != alone.ids[1:-1]  # the parent comes first in old bundles


def test_a_bundle_that_predates_the_recorded_order_keeps_reading_parent_first(tiny_bundle, tmp_path):
    import json
    import shutil

    from withyou.bundle import Classifier
    from withyou.encoding import PARENT_FIRST, POST_FIRST, EncodingSpec
    from withyou.integrity import record_checksums

    new = Classifier.from_bundle(tiny_bundle)
    assert new.encoding.segments == POST_FIRST
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    meta = json.loads((bundle / "metadata.json").read_text())
    encoding = {key: value for key, value in meta["encoding"].items() if key != "segments"}
    (bundle / "metadata.json").write_text(json.dumps({**meta, "encoding": encoding}))
    record_checksums(bundle)
    old = Classifier.from_bundle(bundle)
    assert old.encoding.segments == PARENT_FIRST
    texts, parents = ["sure you were"], ["me too, at work"]
    assert old.encode(texts, parents)[0].ids == encode_posts(
        old.tokenizer, texts, parents, old.normalize, EncodingSpec(segments=PARENT_FIRST, max_length=old.max_length)
    )[0].ids
    assert old.encode(texts, parents)[0].ids != new.encode(texts, parents)[0].ids
    with pytest.raises(ValueError, match="segments 'sideways' is unknown"):
        EncodingSpec.from_json({**encoding, "segments": "sideways"})


@pytest.mark.parametrize(
    "encoding,message",
    [
        ({"max_length": 0}, "max_length must be a positive integer"),
        ({"pad_id": "1"}, "pad_id must be a non-negative integer"),
        ({"pair": "yes"}, "pair must be true or false"),
        ({"truncation": "only_second"}, "truncation 'only_second' is unknown"),
        ([], "must be an object"),
    ],
)
def test_a_malformed_encoding_record_is_named(encoding, message):
    from withyou.encoding import EncodingSpec

    with pytest.raises(ValueError, match=message):
        EncodingSpec.from_json(encoding)


def test_feeds_are_only_the_inputs_the_graph_has():
    from withyou.encoding import pad_encodings
    from tests.tiny_bundles import tiny_tokenizer

    batch = pad_encodings(encode_posts(tiny_tokenizer("roberta"), ["a", "b c d"]), pad_id=1)
    feeds = batch.as_feeds(["input_ids", "attention_mask"])
    assert list(feeds) == ["input_ids", "attention_mask"] and feeds["input_ids"][0, -1] == 1
    with pytest.raises(ValueError, match="position_ids"):
        batch.as_feeds(["input_ids", "position_ids"])


def test_the_model_reads_a_latin_text_in_disguise_as_the_words_it_imitates():
    """Cyrillic look-alikes (о, ѕ, і, р) read as Latin, as NFKC reads full-width letters; a Russian post is left."""
    assert normalize_text("уоu ѕtuріd ѕlut, nobody believes you") == "you stupid slut, nobody believes you"
    assert normalize_text("Привет, как дела?") == "Привет, как дела?"
