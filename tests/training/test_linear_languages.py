"""The linear stage reads the languages its bundle was trained on (training/linear.py writes them into blend.json)."""

from __future__ import annotations

import json
import shutil

from withyou.bundle import Classifier
from withyou.integrity import read_json

FRENCH = "Je te crois. Tu n'es pas seule, on est nombreuses à avoir vécu la même chose."


def test_the_default_bundle_reads_english_only(tiny_model, tmp_path):
    from tests.blend_bundle import with_linear_stage

    bundle = with_linear_stage(tiny_model.bundle, tiny_model.splits, tmp_path / "bundle")
    assert read_json(bundle / "blend.json")["linear_languages"] == read_json(bundle / "metadata.json").get("languages", ["en"])
    assert Classifier.from_bundle(bundle).reads_linear(["I believe you.", FRENCH]) == [True, False]


def test_a_bundle_trained_on_french_too_reads_french(tiny_model, tmp_path):
    from tests.blend_bundle import with_linear_stage

    source = shutil.copytree(tiny_model.bundle, tmp_path / "source")
    metadata = read_json(source / "metadata.json")
    (source / "metadata.json").write_text(json.dumps({**metadata, "languages": ["en", "fr"]}), encoding="utf-8")
    bundle = with_linear_stage(source, tiny_model.splits, tmp_path / "bundle")

    assert read_json(bundle / "blend.json")["linear_languages"] == ["en", "fr"]
    classifier = Classifier.from_bundle(bundle)
    assert classifier.reads_linear(["I believe you.", FRENCH]) == [True, True]
    assert classifier.staged_proba([FRENCH])[1] != ["transformer"]  # the blend (or the cascade), not the transformer alone
