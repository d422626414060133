"""Training presets and option checks (training/config.py)."""

import pytest

from training.config import PRESET_TAG, ConfigError, TrainConfig


SLOW_EXAMPLES_PER_S = 30  # the default loop on a fresh clone with 2 idle cores (training/config.py)


def test_full_preset_trains_longer_than_the_default_within_an_hour():
    default, full = TrainConfig(), TrainConfig.preset("full")
    assert full.epochs * full.max_train_examples > 2 * default.epochs * default.max_train_examples
    assert full.epochs * full.max_train_examples / SLOW_EXAMPLES_PER_S <= 50 * 60  # ≤ 60 min with the rest


def test_the_default_example_budget_fits_the_main_job_on_the_slower_machine():
    default = TrainConfig()
    assert default.epochs * default.max_train_examples / SLOW_EXAMPLES_PER_S <= 12.5 * 60  # + 7.5 min for the rest: ≤ 20 min


def test_presets_take_overrides_and_unknown_names_are_refused():
    assert TrainConfig.preset("fast", seed=7).seed == 7 and TrainConfig.preset("fast").max_steps
    assert TrainConfig.preset("default") == TrainConfig(tags={PRESET_TAG: "default"})
    with pytest.raises(ConfigError, match="preset"):
        TrainConfig.preset("huge")


def test_a_preset_names_itself_in_the_run_tag_beside_the_callers_tags():
    for name in ("default", "full", "fast", "multilingual"):
        assert TrainConfig.preset(name, tags={"trigger": "up"}).tags == {PRESET_TAG: name, "trigger": "up"}


@pytest.mark.parametrize("field,value", [("label_temperature", 1.5), ("source_temperature", -0.1),
                                         ("attention_dropout", 1.0), ("seed_corpus_weight", 0.0)])
def test_out_of_range_sampling_and_dropout_options_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


def test_default_training_freezes_word_embeddings_and_drops_attention_dropout():
    config = TrainConfig()
    assert config.train_word_embeddings is False and config.attention_dropout == 0.0
    assert config.class_weighting is False  # it would undo label_temperature


def test_frozen_word_embeddings_leave_the_optimizer_and_get_no_gradient():
    import torch

    from training.fit import build_optimizer, freeze_word_embeddings, load_base_model

    model, _ = load_base_model(TrainConfig().base_model, 32, attention_dropout=0.0)
    frozen = freeze_word_embeddings(model)
    optimizer, _ = build_optimizer(model, TrainConfig(), total_steps=1)
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert id(model.get_input_embeddings().weight) not in optimised and frozen == 30522 * 384
    assert model.config.attention_probs_dropout_prob == 0.0
    inputs = {"input_ids": torch.tensor([[101, 2057, 102]]), "attention_mask": torch.ones(1, 3, dtype=torch.long)}
    model(**inputs).logits.sum().backward()
    assert model.get_input_embeddings().weight.grad is None
    assert model.classifier.weight.grad is not None
