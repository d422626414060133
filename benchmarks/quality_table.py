"""Quality side by side: the gated numbers of several `withyou evaluate` runs, plus the baseline and
alt-profanity-check columns of the first run that has them, as one Markdown table.

    .venv/bin/python benchmarks/quality_table.py NAME=artifacts/evaluations/<v1>/metrics.json NAME=…/metrics.json

Every number comes from metrics.json through evaluation/gate.py `scorecard` (the transformer's column, or a peer's);
models evaluated on different dataset builds are flagged, since their own-test numbers are then not comparable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.gate import GATE_METRICS, scorecard  # noqa: E402


def main(args: list[str]) -> None:
    runs = []
    for arg in args:
        name, _, path = arg.partition("=")
        runs.append((name, json.loads(Path(path).read_text(encoding="utf-8"))))
    columns = [(name, scorecard(metrics)) for name, metrics in runs]
    peer_run = next(((name, metrics) for name, metrics in runs if metrics.get("peers")), None)
    if peer_run:
        columns += [(f"{peer} (with {peer_run[0]})", scorecard(peer_run[1], peer)) for peer in ("baseline", "profanity_check")]
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
