"""Explanations on the real default bundle: ERASER faithfulness vs random words on a test-split sample, the cost
per explained post, and a few explained examples rendered as escaped HTML.

    python benchmarks/bench_explain.py --bundle artifacts/models/<version>/bundle [--n 300] [--html out.html]

Numbers for the default model are in README "Explanations". Reads the built dataset (artifacts/dataset/test.jsonl).
"""

from __future__ import annotations

import argparse
import html
import json
import random
import time
from pathlib import Path

import numpy as np

from evaluation.faithfulness import faithfulness, faithfulness_table
from withyou.bundle import Classifier, Item
from withyou.explain import Span, explain

ROOT = Path(__file__).resolve().parents[1]


def sample(path: Path, n: int, seed: int) -> list[Item]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = random.Random(seed).sample(rows, min(n, len(rows)))
    return [Item(text=r["text"], parent_text=r.get("parent_text"), id=r.get("id")) for r in rows]


def highlighted_html(text: str, spans: list[Span]) -> str:
    """Escaped text with <mark> around spans (class by sign); the markup a report or the review UI can show."""
    out, cursor = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        out.append(html.escape(text[cursor : span.start]))
        kind = "toward" if span.weight > 0 else "against"
        out.append(f'<mark class="{kind}" title="{span.weight:+.2f}">{html.escape(text[span.start:span.end])}</mark>')
        cursor = span.end
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--test", type=Path, default=ROOT / "artifacts" / "dataset" / "test.jsonl")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=6)
    parser.add_argument("--html", type=Path, default=None, help="write the rendered examples here")
    args = parser.parse_args()

    classifier = Classifier.from_bundle(args.bundle)
    items = sample(args.test, args.n, args.seed)
    started = time.perf_counter()
    result = faithfulness(classifier, items, seed=args.seed)
    print(f"faithfulness on {result['n']} test posts (seed {args.seed}), {time.perf_counter() - started:.0f} s:")
    print(faithfulness_table(result))

    costs = []
    for item in items[:50]:
        t0 = time.perf_counter()
        explain(classifier, [item])
        costs.append((time.perf_counter() - t0) * 1000)
    print(
        f"occlusion cost (word weights, {result['n']} posts one at a time): p50 {result['ms_per_post']['p50']:.0f} ms, "
        f"p99 {result['ms_per_post']['p99']:.0f} ms; full explain() incl. parent (50 posts): "
        f"p50 {np.percentile(costs, 50):.0f} ms, p99 {np.percentile(costs, 99):.0f} ms"
    )
    if args.html:
        shown = items[: args.examples]
        rows = []
        for item, explanation in zip(shown, explain(classifier, shown)):
            parent = f"<p class=parent>parent: {html.escape(item.parent_text)}</p>" if item.parent_text else ""
            rows.append(
                f"<section><h3>{html.escape(explanation.label)} ({html.escape(item.id or '')})</h3>{parent}"
                f"<p>{highlighted_html(item.text, explanation.text.label)}</p></section>"
            )
        args.html.write_text(
            "<!doctype html><meta charset=utf-8><style>mark.toward{background:#f8b4b4}"
            "mark.against{background:#b4cdf8}</style>" + "".join(rows),
            encoding="utf-8",
        )
        print(f"examples: {args.html}")
    print(json.dumps({k: v for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    main()
