"""How faithful the occlusion explanations are (ERASER, DeYoung et al. 2020), measured on held-out posts.

For each post, the words are ranked by their occlusion weight for the predicted label (withyou/explain.py) and, as
the baseline, in a random order (seeded). For k = a fraction of the post's words (at least one):

- comprehensiveness = P(label | post) − P(label | post without the top-k words): high when the words the
  explanation names are the ones the answer needs;
- sufficiency = P(label | post) − P(label | the top-k words alone): low when those words carry the answer by
  themselves.

Both are averaged over posts and over the fractions (ERASER's AOPC). An explanation is faithful when it beats the
random words on both: higher comprehensiveness, lower sufficiency. The parent stays as it is; only the post's words
are ranked. The cost of explaining one post (all its occlusion runs, as `withyou explain` pays it) is timed too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from withyou.bundle import Classifier, Item
from withyou.explain import only, segments, without, word_weights

FRACTIONS = (0.1, 0.2, 0.5)


def faithfulness(
    classifier: Classifier, items: Sequence[Item], *, fractions: Sequence[float] = FRACTIONS, seed: int = 0
) -> dict:
    """Comprehensiveness and sufficiency of top-k vs random-k words (module docstring), and ms per explained post."""
    rng = np.random.default_rng(seed)
    variants: list[tuple[int, str, str, str | None]] = []  # (post, "top"/"random" + kind, text, parent)
    base_probs, targets, costs = [], [], []
    for index, item in enumerate(items):
        started = time.perf_counter()
        base, (weights,) = word_weights(classifier, [item])
        costs.append((time.perf_counter() - started) * 1000)
        targets.append(int(base[0].argmax()))
        base_probs.append(float(base[0, targets[-1]]))
        n = len(weights.words)
        if n == 0:
            continue
        orders = {"top": np.argsort(-weights.label, kind="stable"), "random": rng.permutation(n)}
        for fraction in fractions:
            k = max(1, math.ceil(fraction * n))
            for name, order in orders.items():
                chosen = [weights.words[i] for i in order[:k]]
                variants.append((index, f"{name}:{fraction}:comprehensiveness", without(item.text, chosen) or " ", item.parent_text))
                variants.append((index, f"{name}:{fraction}:sufficiency", only(item.text, chosen), item.parent_text))
    # the model the explanations explain: the transformer (withyou/explain.py), not a bundle's blend
    probs = classifier.probabilities_of(classifier.encode([v[2] for v in variants], [v[3] for v in variants]))
    drops: dict[str, list[float]] = {}
    for (index, key, _, _), row in zip(variants, probs):
        drops.setdefault(key, []).append(base_probs[index] - float(row[targets[index]]))
    table = {
        metric: {
            name: {
                "per_fraction": {str(f): float(np.mean(drops[f"{name}:{f}:{metric}"])) for f in fractions},
                "aopc": float(np.mean([np.mean(drops[f"{name}:{f}:{metric}"]) for f in fractions])),
            }
            for name in ("top", "random")
        }
        for metric in ("comprehensiveness", "sufficiency")
    }
    return {
        "n": len(items),
        "fractions": list(fractions),
        "seed": seed,
        **table,
        "ms_per_post": {"p50": float(np.percentile(costs, 50)), "p99": float(np.percentile(costs, 99))},
    }


def faithfulness_table(result: dict) -> str:
    """The result as a Markdown table (README, benchmark output)."""
    lines = [
        "| measure | top-k (occlusion) | random-k | better when |",
        "|---|---|---|---|",
    ]
    for metric, better in (("comprehensiveness", "higher"), ("sufficiency", "lower")):
        top, random = result[metric]["top"], result[metric]["random"]
        lines.append(f"| {metric} AOPC | {top['aopc']:.3f} | {random['aopc']:.3f} | {better} |")
        for fraction in result["fractions"]:
            f = str(fraction)
            lines.append(
                f"| {metric} k = {float(fraction):.0%} of words | {top['per_fraction'][f]:.3f} | "
                f"{random['per_fraction'][f]:.3f} | {better} |"
            )
    return "\n".join(lines)


def faithfulness_section(
    classifier: Classifier, items: Sequence[Item], *, n: int, seed: int = 0, shown: int = 4
) -> tuple[dict, list[dict]]:
    """Faithfulness on a seeded sample of `n` posts, plus `shown` explained examples for the report."""
    from withyou.explain import explain

    rng = np.random.default_rng(seed)
    chosen = [items[i] for i in sorted(rng.choice(len(items), size=min(n, len(items)), replace=False))]
    result = faithfulness(classifier, chosen, seed=seed)
    examples = [
        {"id": item.id, "label": explanation.label, "parent_text": item.parent_text,
         "segments": segments(item.text, explanation.text.label)}
        for item, explanation in zip(chosen[:shown], explain(classifier, chosen[:shown]))
    ]
    return result, examples
