"""Where a MiniLM training step spends its CPU time, and what freezing the word embeddings and dropping dropout buy.

    .venv/bin/python benchmarks/profile_train_step.py                 # built dataset's train split (else the seed corpus)
    .venv/bin/python benchmarks/profile_train_step.py --steps 20 --json out.json

For each variant (the old defaults: embeddings trained, dropout 0.1; embeddings frozen; frozen + no attention
dropout; frozen + no dropout at all) it runs `--warmup` + `--steps` optimizer steps of the real
training loop's pieces (withyou encoding, forward, loss, backward, clipping, AdamW, scheduler) on the same batches,
times each phase, and prints examples/s side by side with torch.profiler's top operators for one step. Not a test:
run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from withyou import paths  # noqa: E402
from withyou.records import read_jsonl  # noqa: E402


def load_records(limit: int):
    dataset = paths.dataset_dir()
    files = [dataset / "train.jsonl"] if (dataset / "train.jsonl").is_file() else sorted(paths.SEED_DIR.glob("*.jsonl"))
    records = [r for f in files for r in read_jsonl(f, strict=False)]
    rng = np.random.default_rng(0)
    return [records[i] for i in rng.permutation(len(records))[:limit]]


VARIANTS = (  # (name, freeze word embeddings, attention dropout, hidden dropout); None keeps the base model's 0.1.
    # The last-but-one is TrainConfig's default.
    ("old default", False, None, None),
    ("frozen embeddings", True, None, None),
    ("frozen, no attention dropout", True, 0.0, None),
    ("frozen, no dropout", True, 0.0, 0.0),
)


def run_variant(variant, records, steps: int, warmup: int, batch_size: int, profile: bool) -> dict:
    import torch

    from training.config import TrainConfig
    from training.dataset import label_ids
    from training.fit import build_optimizer, freeze_word_embeddings, load_base_model, model_batch, seed_everything

    name, freeze, attention_dropout, hidden_dropout = variant
    config = TrainConfig(track=False, attention_dropout=attention_dropout, hidden_dropout=hidden_dropout,
                         train_word_embeddings=not freeze)
    seed_everything(13)
    model, tokenizer = load_base_model(config.base_model, config.max_length, config.attention_dropout,
                                       config.hidden_dropout)
    if freeze:
        freeze_word_embeddings(model)
    optimizer, scheduler = build_optimizer(model, config, total_steps=steps + warmup)
    labels = torch.from_numpy(label_ids(records))
    loss_fn = torch.nn.CrossEntropyLoss()
    phases: dict[str, list[float]] = {k: [] for k in ("encode", "forward", "backward", "clip+optimizer", "total")}
    model.train()
    table = None
    for step in range(warmup + steps):
        idx = np.arange(step * batch_size, (step + 1) * batch_size) % len(records)
        t0 = time.perf_counter()
        inputs = model_batch(model, tokenizer, [records[i].text for i in idx], [records[i].parent_text for i in idx])
        t1 = time.perf_counter()
        profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if profile and step == warmup else None
        if profiler:
            profiler.__enter__()
        loss = loss_fn(model(**inputs).logits, labels[idx])
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        if profiler:
            profiler.__exit__(None, None, None)
            table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
        if step >= warmup:
            for phase, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                phases[phase].append(value * 1000)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    median_ms = {k: statistics.median(v) for k, v in phases.items()}
    return {
        "variant": name,
        "trainable_parameters": trainable,
        "median_ms": median_ms,
        "examples_per_s": batch_size / (median_ms["total"] / 1000),
        "profile": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    records = load_records(args.batch_size * (args.steps + args.warmup))
    results = [run_variant(variant, records, args.steps, args.warmup, args.batch_size, not args.no_profile)
               for variant in VARIANTS]
    print(f"{'variant':<30} {'trainable':>11} {'encode':>7} {'forward':>8} {'backward':>9} "
          f"{'clip+opt':>9} {'step ms':>8} {'ex/s':>6} {'vs old':>7}")
    for r in results:
        ms = r["median_ms"]
        print(f"{r['variant']:<30} {r['trainable_parameters']:>11,} {ms['encode']:>7.1f} {ms['forward']:>8.1f} "
              f"{ms['backward']:>9.1f} {ms['clip+optimizer']:>9.1f} {ms['total']:>8.1f} {r['examples_per_s']:>6.1f} "
              f"×{r['examples_per_s'] / results[0]['examples_per_s']:>5.2f}")
    for r in (results[0], results[-1]):
        if r["profile"]:
            print(f"\ntop operators, one step, {r['variant']}:\n{r['profile']}")
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "profile"} for r in results], indent=2))


if __name__ == "__main__":
    main()
