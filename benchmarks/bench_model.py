"""Model speed and size, side by side: training examples/s, bundle sizes, inference for torch / ONNX fp32 / ONNX int8.

    .venv/bin/python benchmarks/bench_model.py                                  # latest artifacts/models/<v>
    .venv/bin/python benchmarks/bench_model.py --model-dir artifacts/models/<v> --repeats 5 --json out.json

Inference is timed end to end from text (tokenisation included, as in serving) at batch 1 and batch 32:
texts/s and per-call p50/p99 latency, the median over `--repeats` runs. Training throughput is
fit_transformer on the built dataset's train split (seed corpus when there is none) with the default
batch size and max_length. Without a trained model the base MiniLM (random head) is exported to a temporary
bundle — same speed and size, meaningless labels. Not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from withyou import paths  # noqa: E402
from withyou.records import Record, read_jsonl  # noqa: E402


def load_texts(limit: int) -> list[Record]:
    dataset = paths.dataset_dir()
    files = [dataset / "validation.jsonl"] if (dataset / "validation.jsonl").is_file() else sorted(paths.SEED_DIR.glob("*.jsonl"))
    records = [r for f in files for r in read_jsonl(f, strict=False)]
    rng = np.random.default_rng(0)
    return [records[i] for i in rng.permutation(len(records))[:limit]]


def latest_model_dir() -> Path | None:
    models = paths.artifacts_dir() / "models"
    candidates = sorted(p for p in models.glob("*") if (p / "bundle").is_dir() and (p / "checkpoint").is_dir())
    return candidates[-1] if candidates else None


def time_calls(call: Callable[[list[Record]], object], records: Sequence[Record], batch: int) -> dict[str, float]:
    """Run `call` over `records` in batches; texts/s overall and p50/p99 of the per-call latency (ms)."""
    latencies = []
    started = time.perf_counter()
    for start in range(0, len(records) - batch + 1, batch):
        t0 = time.perf_counter()
        call(list(records[start : start + batch]))
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "texts_per_s": len(latencies) * batch / elapsed,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def int8_bundle(model_dir: Path, scratch: Path) -> Path:
    """The bundle whose model.onnx is int8. When export's int8 rule rejected int8 and shipped fp32
    (metadata parity.shipped == "fp32"), the same quantisation is redone into a scratch copy (its checksums
    re-recorded), so the int8 row still shows what int8 would buy (and the table says it was not shipped)."""
    import shutil

    from training.export import quantize_int8
    from withyou.integrity import record_checksums

    bundle = model_dir / "bundle"
    if json.loads((bundle / "metadata.json").read_text()).get("parity", {}).get("shipped", "int8") != "fp32":
        return bundle
    copy = scratch / "int8-bundle"
    shutil.copytree(bundle, copy)
    quantize_int8(copy / "model.fp32.onnx", copy / "model.onnx")
    record_checksums(copy)
    return copy


def inference_figures(model_dir: Path, records: list[Record], threads: int, repeats: int, int8_dir: Path) -> dict[str, dict]:
    from training.export import torch_logits
    from training.fit import load_checkpoint
    from withyou.bundle import Classifier

    info = json.loads((model_dir / "checkpoint" / "withyou_train.json").read_text())
    model, tokenizer = load_checkpoint(model_dir / "checkpoint", int(info["max_length"]))
    engines: dict[str, Callable[[list[Record]], object]] = {
        "torch eager": lambda rs: torch_logits(model, tokenizer, [r.text for r in rs], [r.parent_text for r in rs]),
    }
    for name, directory, file in (
        ("onnx fp32", model_dir / "bundle", "model.fp32.onnx"),
        ("onnx int8" if int8_dir == model_dir / "bundle" else "onnx int8 (not shipped)", int8_dir, "model.onnx"),
    ):
        clf = Classifier.from_bundle(directory, model_file=file, intra_op_threads=threads)
        engines[name] = lambda rs, clf=clf: clf.logits([r.text for r in rs], [r.parent_text for r in rs])
    figures: dict[str, dict] = {}
    for name, call in engines.items():
        call(records[:8])  # warm-up: graph optimisation, allocator
        for batch in (1, 32):
            sample = records[: 200 if batch == 1 else len(records)]
            figures.setdefault(name, {})[f"batch {batch}"] = median_of([time_calls(call, sample, batch) for _ in range(repeats)])
    return figures


def training_throughput(steps: int) -> float:
    from training.config import TrainConfig
    from training.fit import fit_transformer

    dataset = paths.dataset_dir()
    if (dataset / "train.jsonl").is_file():
        train = read_jsonl(dataset / "train.jsonl")
    else:
        train = [r for f in sorted(paths.SEED_DIR.glob("*.jsonl")) for r in read_jsonl(f, strict=False)]
    config = TrainConfig(epochs=1, max_steps=steps, max_eval_examples=16, track=False)
    return fit_transformer(config, train, train[:16]).train_examples_per_s


def export_base_model(directory: Path) -> Path:
    """Untrained head on the base MiniLM, exported like a real model: for speed and size only."""
    from training.config import TrainConfig
    from training.export import export_bundle
    from training.fit import FitResult, load_base_model, save_checkpoint

    config = TrainConfig()
    model, tokenizer = load_base_model(config.base_model, config.max_length)
    save_checkpoint(FitResult(model=model, tokenizer=tokenizer, base_model=config.base_model), directory / "checkpoint")
    (directory / "checkpoint" / "withyou_train.json").write_text(json.dumps({"max_length": config.max_length}))
    export_bundle(model, tokenizer, directory / "bundle", max_length=config.max_length, min_int8_agreement=0.0,
                  int8_min_margin=0.0)
    return directory


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    sizes = result["bundle_mb"]
    console.print(
        f"training: {result['train_examples_per_s']:.1f} examples/s   bundle: fp32 {sizes['fp32']:.1f} MB, "
        f"int8 {sizes['int8']:.1f} MB (×{sizes['fp32'] / sizes['int8']:.2f} smaller)   threads {result['threads']}"
    )
    table = Table(title=f"inference on {result['texts']} posts, median of {result['repeats']} runs")
    for column in ("engine", "batch", "texts/s", "p50 ms", "p99 ms", "speed vs torch"):
        table.add_column(column, justify="right")
    for batch in ("batch 1", "batch 32"):
        base = result["inference"]["torch eager"][batch]["texts_per_s"]
        for engine, figures in result["inference"].items():
            row = figures[batch]
            table.add_row(engine, batch[6:], f"{row['texts_per_s']:.1f}", f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}",
                          f"×{row['texts_per_s'] / base:.2f}")
    console.print(table)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="artifacts/models/<version> (default: the latest)")
    parser.add_argument("--texts", type=int, default=512, help="posts timed at batch 32 (200 at batch 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=30, help="0 skips the training figure")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or latest_model_dir() or export_base_model(Path(scratch))
        records = load_texts(args.texts)
        int8_dir = int8_bundle(model_dir, Path(scratch))
        result = {
            "model_dir": str(model_dir),
            "threads": args.threads,
            "texts": len(records),
            "repeats": args.repeats,
            "train_examples_per_s": training_throughput(args.train_steps) if args.train_steps else float("nan"),
            "bundle_mb": {
                "fp32": (model_dir / "bundle" / "model.fp32.onnx").stat().st_size / 1e6,
                "int8": (int8_dir / "model.onnx").stat().st_size / 1e6,
            },
            "inference": inference_figures(model_dir, records, args.threads, args.repeats, int8_dir),
        }
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
