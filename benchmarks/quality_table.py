"""Quality side by side: the gated numbers of several `withyou evaluate` runs, plus the baseline and
alt-profanity-check columns of the first run that has them, as one Markdown table.

    .venv/bin/python benchmarks/quality_table.py NAME=artifacts/evaluations/<v1>/metrics.json NAME=…/metrics.json

Every number comes from metrics.json (evaluation/gate.py `scorecard` for the transformer columns); models evaluated
on different dataset builds are flagged, since their own-test numbers are then not comparable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.gate import GATE_METRICS, scorecard  # noqa: E402


def peer_card(metrics: dict, model: str) -> dict[str, float | None]:
    """The same numbers for a peer column (baseline / profanity_check) where evaluation computed them."""
    benchmarks, bias = metrics.get("benchmarks") or {}, (metrics.get("bias") or {}).get(model)
    peers = (metrics.get("peers") or {}).get(model) or {}

    def get(*path):
        tree = benchmarks
        for key in path:
            if not isinstance(tree, dict) or tree.get(key) is None:
                return None
            tree = tree[key]
        return tree

    return {
        "test_macro_f1": peers.get("macro_f1"),
        "disclosure_to_harassing_rate": peers.get("disclosure_to_harassing_rate"),
        "edos_macro_f1": get("edos", model, "macro_f1"),
        "misogyny_macro_f1": get("misogyny_reddit", model, "macro_f1"),
        "counter_speech_harassing_rate": get("crowdcounter", model, "counter_speech_harassing_rate"),
        "hate_caught_rate": get("crowdcounter", model, "hate_caught_rate"),
        "bias_false_positive_rate": (bias or {}).get("overall", {}).get("fpr"),
        "bias_bpsn_auc": (bias or {}).get("generalized_mean", {}).get("bpsn_auc"),
        "functional_pass_rate": None,
    }


def main(args: list[str]) -> None:
    runs = []
    for arg in args:
        name, _, path = arg.partition("=")
        runs.append((name, json.loads(Path(path).read_text(encoding="utf-8"))))
    columns = [(name, scorecard(metrics)) for name, metrics in runs]
    with_peers = next((metrics for _, metrics in runs if metrics.get("peers")), None)
    if with_peers:
        columns += [(f"{peer} (with {runs[[m for _, m in runs].index(with_peers)][0]})", peer_card(with_peers, peer))
                    for peer in ("baseline", "profanity_check")]
    print("| number | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for metric in GATE_METRICS:
        cells = ["—" if card.get(metric.key) is None else f"{card[metric.key]:.3f}" for _, card in columns]
        print(f"| {metric.title} ({'↑' if metric.higher_is_better else '↓'}) | " + " | ".join(cells) + " |")
    hashes = {m["dataset"]["content_hash"] for _, m in runs}
    if len(hashes) > 1:
        print("\nnote: the runs were evaluated on different dataset builds; own-test numbers are not comparable.")


if __name__ == "__main__":
    main(sys.argv[1:])
